"""The bot's keyword auto-reply rules (关键词自动回复): owners and supervisors write them, agents
read them, and anyone on staff can try a message against them (docs/keyword-rules.md)."""

from chalice import Chalice, Response
from kefu.bot import keyword_rules_admin as admin
from kefu.bot.keyword_rules import KeywordRuleChange, KeywordRuleTest, NewKeywordRule
from kefu.http import body, install_error_handling, json_response, query, staff_actor
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-keyword-rules")
install_error_handling(app)


@app.route("/v1/bot/keyword-rules", methods=["GET"])
def list_rules() -> Response:
    actor = staff_actor(app)
    return json_response(
        admin.list_rules(actor, limit=page_limit(query(app, "limit")), cursor=query(app, "cursor"))
    )


@app.route("/v1/bot/keyword-rules", methods=["POST"])
def create_rule() -> Response:
    actor = staff_actor(app)
    return json_response(admin.create_rule(actor, body(app, NewKeywordRule)), status=201)


@app.route("/v1/bot/keyword-rules/test", methods=["POST"])
def try_rules() -> Response:
    actor = staff_actor(app)
    return json_response(admin.try_rules(actor, body(app, KeywordRuleTest)))


@app.route("/v1/bot/keyword-rules/{rule_id}", methods=["GET"])
def get_rule(rule_id: str) -> Response:
    return json_response(admin.get_rule(staff_actor(app), rule_id))


@app.route("/v1/bot/keyword-rules/{rule_id}", methods=["PATCH"])
def update_rule(rule_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(admin.update_rule(actor, rule_id, body(app, KeywordRuleChange)))


@app.route("/v1/bot/keyword-rules/{rule_id}", methods=["DELETE"])
def delete_rule(rule_id: str) -> Response:
    admin.delete_rule(staff_actor(app), rule_id)
    return json_response({"rule_id": rule_id, "deleted": True})
