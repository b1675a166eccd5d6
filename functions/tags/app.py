"""Tags (docs/tags.md): the shop's tag groups and tags, tags on one customer and their history,
and the auto-tag rules the tagging function applies."""

from chalice import Chalice, Response
from kefu.http import body, install_error_handling, json_response, query, staff_actor
from kefu.pagination import page_limit
from kefu.tags import catalog, customer_tags, rules_admin
from kefu.tags.rules import AutoTagRuleEdit, NewAutoTagRule

app = Chalice(app_name="kefu-tags")
install_error_handling(app)


@app.route("/v1/tag-groups", methods=["GET"])
def list_groups() -> Response:
    return json_response(catalog.list_groups(staff_actor(app)))


@app.route("/v1/tag-groups", methods=["POST"])
def create_group() -> Response:
    actor = staff_actor(app)
    return json_response(catalog.create_group(actor, body(app, catalog.NewTagGroup)), status=201)


@app.route("/v1/tag-groups/{group_id}", methods=["PATCH"])
def update_group(group_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(catalog.update_group(actor, group_id, body(app, catalog.TagGroupEdit)))


@app.route("/v1/tag-groups/{group_id}", methods=["DELETE"])
def delete_group(group_id: str) -> Response:
    catalog.delete_group(staff_actor(app), group_id)
    return json_response({"group_id": group_id, "deleted": True})


@app.route("/v1/tags", methods=["GET"])
def list_tags() -> Response:
    return json_response(catalog.list_tags(staff_actor(app), group_id=query(app, "group_id")))


@app.route("/v1/tags", methods=["POST"])
def create_tag() -> Response:
    actor = staff_actor(app)
    return json_response(catalog.create_tag(actor, body(app, catalog.NewTag)), status=201)


@app.route("/v1/tags/{tag_id}", methods=["GET"])
def get_tag(tag_id: str) -> Response:
    return json_response(catalog.get_tag(staff_actor(app), tag_id))


@app.route("/v1/tags/{tag_id}", methods=["PATCH"])
def update_tag(tag_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(catalog.update_tag(actor, tag_id, body(app, catalog.TagEdit)))


@app.route("/v1/tags/{tag_id}", methods=["DELETE"])
def delete_tag(tag_id: str) -> Response:
    catalog.delete_tag(staff_actor(app), tag_id)
    return json_response({"tag_id": tag_id, "deleted": True})


@app.route("/v1/customers/{customer_id}/tags", methods=["POST"])
def tag_customer(customer_id: str) -> Response:
    actor = staff_actor(app)
    req = body(app, customer_tags.TagCustomer)
    return json_response(customer_tags.tag_customer(actor, customer_id, req))


@app.route("/v1/customers/{customer_id}/tags/{tag_id}", methods=["DELETE"])
def untag_customer(customer_id: str, tag_id: str) -> Response:
    return json_response(customer_tags.untag_customer(staff_actor(app), customer_id, tag_id))


@app.route("/v1/customers/{customer_id}/tags/history", methods=["GET"])
def tag_history(customer_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(
        customer_tags.customer_history(
            actor,
            customer_id,
            limit=page_limit(query(app, "limit")),
            cursor=query(app, "cursor"),
        )
    )


@app.route("/v1/tag-rules", methods=["GET"])
def list_rules() -> Response:
    return json_response(rules_admin.list_rules(staff_actor(app)))


@app.route("/v1/tag-rules", methods=["POST"])
def create_rule() -> Response:
    actor = staff_actor(app)
    return json_response(rules_admin.create_rule(actor, body(app, NewAutoTagRule)), status=201)


@app.route("/v1/tag-rules/{tag_rule_id}", methods=["GET"])
def get_rule(tag_rule_id: str) -> Response:
    return json_response(rules_admin.get_rule(staff_actor(app), tag_rule_id))


@app.route("/v1/tag-rules/{tag_rule_id}", methods=["PATCH"])
def update_rule(tag_rule_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(rules_admin.update_rule(actor, tag_rule_id, body(app, AutoTagRuleEdit)))


@app.route("/v1/tag-rules/{tag_rule_id}", methods=["DELETE"])
def delete_rule(tag_rule_id: str) -> Response:
    rules_admin.delete_rule(staff_actor(app), tag_rule_id)
    return json_response({"rule_id": tag_rule_id, "deleted": True})
