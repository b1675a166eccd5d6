"""The agent's workbench: views with counts, a conversation with its context, internal notes,
quick replies, pending/snooze, history search, the typing relay. Domain: kefu.workbench."""

from chalice import Chalice, Response
from kefu.http import (
    acting_shop,
    body,
    install_error_handling,
    json_response,
    query,
    request_id,
    staff_actor,
    staff_identity,
)
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-workbench")
install_error_handling(app)


@app.route("/v1/workbench/views", methods=["GET"])
def view_counts() -> Response:
    from kefu.workbench import views

    return json_response(views.view_counts(staff_actor(app)))


@app.route("/v1/workbench/views/{view}", methods=["GET"])
def view_conversations(view: str) -> Response:
    from kefu.workbench import views

    actor = staff_actor(app)
    items, cursor = views.list_view(
        actor, view, limit=page_limit(query(app, "limit"), 20), cursor=query(app, "cursor")
    )
    return json_response({"view": view, "conversations": items, "next_cursor": cursor})


@app.route("/v1/workbench/conversations/{conversation_id}", methods=["GET"])
def conversation_context(conversation_id: str) -> Response:
    from kefu.workbench import context

    if acting_shop(app):  # platform staff on a shop of their mall: their record is elsewhere
        actor = staff_actor(app)
        return json_response(
            context.conversation_context(actor.shop_id, actor.username, conversation_id, actor)
        )
    shop_id, username = staff_identity(app)  # the staff record is read with the conversation
    return json_response(context.conversation_context(shop_id, username, conversation_id))


@app.route("/v1/workbench/search", methods=["GET"])
def search() -> Response:
    from kefu.audit import record_access
    from kefu.workbench import search as history

    actor = staff_actor(app)
    customer_id, q = query(app, "customer_id"), query(app, "q")
    found = history.search(
        actor,
        customer_id=customer_id,
        q=q,
        from_ms=history.parse_time(query(app, "from"), "from"),
        to_ms=history.parse_time(query(app, "to"), "to", end=True),
        limit=page_limit(query(app, "limit"), 20),
        cursor=query(app, "cursor"),
    )
    # A search shows customers' messages unmasked: audited before the answer leaves.
    record_access(
        actor,
        action="messages.searched",
        target_type="customer" if customer_id else "shop",
        target_id=customer_id or actor.shop_id,
        details={"q": q, "from": query(app, "from"), "to": query(app, "to")},
        request_id=request_id(app),
    )
    return json_response(found)


@app.route("/v1/conversations/{conversation_id}/notes", methods=["POST"])
def add_note(conversation_id: str) -> Response:
    from kefu.workbench.notes import NoteRequest, add_note

    actor = staff_actor(app)
    return json_response(add_note(actor, conversation_id, body(app, NoteRequest)), status=201)


@app.route("/v1/conversations/{conversation_id}/pending", methods=["POST"])
def mark_pending(conversation_id: str) -> Response:
    from kefu.workbench import states

    return json_response(states.mark_pending(staff_actor(app), conversation_id))


@app.route("/v1/conversations/{conversation_id}/snooze", methods=["POST"])
def snooze(conversation_id: str) -> Response:
    from kefu.workbench.states import SnoozeRequest, snooze

    actor = staff_actor(app)
    return json_response(snooze(actor, conversation_id, body(app, SnoozeRequest)))


@app.route("/v1/conversations/{conversation_id}/unsnooze", methods=["POST"])
def unsnooze(conversation_id: str) -> Response:
    from kefu.workbench import states

    return json_response(states.unsnooze(staff_actor(app), conversation_id))


@app.route("/v1/conversations/{conversation_id}/typing", methods=["POST"])
def typing(conversation_id: str) -> Response:
    from kefu.workbench.typing_relay import TypingRequest, relay_typing

    actor = staff_actor(app)
    return json_response(relay_typing(actor, conversation_id, body(app, TypingRequest)))


@app.route("/v1/quick-replies", methods=["GET"])
def list_quick_replies() -> Response:
    from kefu.workbench import quick_replies

    actor = staff_actor(app)
    conversation_id = query(app, "conversation_id")
    return json_response(quick_replies.list_quick_replies(actor, conversation_id))


@app.route("/v1/quick-replies", methods=["POST"])
def create_quick_reply() -> Response:
    from kefu.workbench.quick_replies import NewQuickReply, create_quick_reply

    actor = staff_actor(app)
    return json_response(create_quick_reply(actor, body(app, NewQuickReply)), status=201)


@app.route("/v1/quick-replies/{quick_reply_id}", methods=["PATCH"])
def update_quick_reply(quick_reply_id: str) -> Response:
    from kefu.workbench.quick_replies import QuickReplyChange, update_quick_reply

    actor = staff_actor(app)
    return json_response(update_quick_reply(actor, quick_reply_id, body(app, QuickReplyChange)))


@app.route("/v1/quick-replies/{quick_reply_id}", methods=["DELETE"])
def delete_quick_reply(quick_reply_id: str) -> Response:
    from kefu.workbench import quick_replies

    quick_replies.delete_quick_reply(staff_actor(app), quick_reply_id)
    return json_response({"quick_reply_id": quick_reply_id, "deleted": True})


@app.route(
    "/v1/conversations/{conversation_id}/quick-replies/{quick_reply_id}/send", methods=["POST"]
)
def send_quick_reply(conversation_id: str, quick_reply_id: str) -> Response:
    from kefu.workbench import quick_replies

    actor = staff_actor(app)
    return json_response(
        quick_replies.send_quick_reply(actor, conversation_id, quick_reply_id), status=201
    )
