"""The signed-in staff member's notification inbox."""

from chalice import Chalice, Response
from kefu.errors import BadRequest
from kefu.http import body, install_error_handling, json_response, query, staff_actor
from kefu.pagination import page_limit
from kefu.realtime import inbox

app = Chalice(app_name="kefu-notifications")
install_error_handling(app)


@app.route("/v1/notifications", methods=["GET"])
def list_notifications() -> Response:
    actor = staff_actor(app)
    unread = (query(app, "unread") or "").lower() in ("1", "true")
    return json_response(
        inbox.list_inbox(
            actor.shop_id,
            actor.username,
            limit=page_limit(query(app, "limit"), default=20),
            cursor=query(app, "cursor"),
            unread_only=unread,
        )
    )


@app.route("/v1/notifications/read", methods=["POST"])
def mark_read() -> Response:
    actor = staff_actor(app)
    change = body(app, inbox.MarkNotificationsRead)
    if not change.all and not change.ids:
        raise BadRequest('send {"ids": [...]} or {"all": true}', code="nothing_to_mark")
    return json_response(
        inbox.mark_read(actor.shop_id, actor.username, ids=change.ids, all_=change.all)
    )
