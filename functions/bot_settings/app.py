"""The bot's settings (supervisors and owners; every change audited): on or off, greeting,
thresholds, hand-off phrases and triggers, texts. docs/bot.md."""

from chalice import Chalice, Response
from kefu.bot import settings
from kefu.http import body, install_error_handling, json_response, staff_actor

app = Chalice(app_name="kefu-bot-settings")
install_error_handling(app)


@app.route("/v1/bot/settings", methods=["GET"])
def get_settings() -> Response:
    return json_response(settings.get_settings(staff_actor(app)))


@app.route("/v1/bot/settings", methods=["PUT"])
def put_settings() -> Response:
    actor = staff_actor(app)
    return json_response(settings.put_settings(actor, body(app, settings.BotSettings)))
