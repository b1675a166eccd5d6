"""The bot's learning loop over HTTP (supervisors and owners): suggestions grouped from the
questions the bot could not answer, accepting or dismissing them, and the entry reports."""

from chalice import Chalice, Response
from kefu.bot import learning, learning_reports
from kefu.http import body, install_error_handling, json_response, query, staff_actor
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-bot-insights")
install_error_handling(app)


@app.route("/v1/bot/suggestions", methods=["GET"])
def list_suggestions() -> Response:
    actor = staff_actor(app)
    days = learning.parse_days(query(app, "days"))
    limit = page_limit(query(app, "limit"), 50)
    return json_response(learning.suggestions(actor, days=days, limit=limit))


@app.route("/v1/bot/suggestions/{key}/accept", methods=["POST"])
def accept_suggestion(key: str) -> Response:
    actor = staff_actor(app)
    req = body(app, learning.AcceptSuggestion)
    days = learning.parse_days(query(app, "days"))
    return json_response(learning.accept(actor, key, req, days=days))


@app.route("/v1/bot/suggestions/{key}/dismiss", methods=["POST"])
def dismiss_suggestion(key: str) -> Response:
    actor = staff_actor(app)
    days = learning.parse_days(query(app, "days"))
    return json_response(learning.dismiss(actor, key, days=days))


@app.route("/v1/bot/reports/entries", methods=["GET"])
def entry_report() -> Response:
    return json_response(learning_reports.entry_report(staff_actor(app)))


@app.route("/v1/bot/reports/unused", methods=["GET"])
def unused_entries() -> Response:
    actor = staff_actor(app)
    days = learning.parse_days(query(app, "days"))
    return json_response(learning_reports.unused_entries(actor, days=days))
