"""The agent side: conversation lists, a conversation's messages, claim/assign/reply/resolve."""

from chalice import Chalice, Response
from kefu.conversations import replies, service
from kefu.conversations.content import AgentReply
from kefu.conversations.messages import list_messages
from kefu.conversations.views import message_view
from kefu.http import (
    acting_shop,
    body,
    install_error_handling,
    json_response,
    query,
    staff_actor,
    staff_identity,
)
from kefu.media import UploadRequest, presign_upload
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-conversations")
install_error_handling(app)


@app.route("/v1/conversations", methods=["GET"])
def list_conversations() -> Response:
    actor = staff_actor(app)
    flt = service.ListFilter(
        status=query(app, "status"), queue=query(app, "queue"), assignee=query(app, "assignee")
    )
    items, cursor = service.list_conversations(
        actor, flt, limit=page_limit(query(app, "limit"), 20), cursor=query(app, "cursor")
    )
    return json_response({"conversations": items, "next_cursor": cursor})


@app.route("/v1/conversations/{conversation_id}", methods=["GET"])
def get_conversation(conversation_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(service.get_conversation(actor, conversation_id).to_public())


@app.route("/v1/conversations/{conversation_id}/messages", methods=["GET"])
def conversation_messages(conversation_id: str) -> Response:
    actor = staff_actor(app)
    conv = service.get_conversation(actor, conversation_id)
    messages, has_more = list_messages(
        actor.shop_id,
        conv.conversation_id,
        after=query(app, "after"),
        before=query(app, "before"),
        limit=page_limit(query(app, "limit")),
    )
    return json_response(
        {
            "conversation_id": conv.conversation_id,
            "messages": [message_view(m) for m in messages],
            "next_cursor": messages[-1].msg_key if messages else query(app, "after"),
            "has_more": has_more,
        }
    )


@app.route("/v1/conversations/{conversation_id}/claim", methods=["POST"])
def claim(conversation_id: str) -> Response:
    return json_response(service.claim(staff_actor(app), conversation_id))


@app.route("/v1/conversations/{conversation_id}/assign", methods=["POST"])
def assign(conversation_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(service.assign(actor, conversation_id, body(app, service.AssignRequest)))


@app.route("/v1/conversations/{conversation_id}/replies", methods=["POST"])
def reply(conversation_id: str) -> Response:
    if acting_shop(app):  # platform staff on a shop of their mall: their record is elsewhere
        actor, read = staff_actor(app), None
    else:
        # One request reads the staff record, the shop's status and the conversation.
        actor, read = replies.read_for_reply(*staff_identity(app), conversation_id)
    replied = replies.send_reply(actor, conversation_id, body(app, AgentReply), read=read)
    # A retried request (same client_message_id) answers 200 with the first copy.
    return json_response(replied.message, status=200 if replied.duplicate else 201)


@app.route("/v1/conversations/{conversation_id}/messages/{message_id}/resend", methods=["POST"])
def resend(conversation_id: str, message_id: str) -> Response:
    return json_response(replies.resend(staff_actor(app), conversation_id, message_id))


@app.route("/v1/conversations/{conversation_id}/resolve", methods=["POST"])
def resolve(conversation_id: str) -> Response:
    return json_response(service.resolve(staff_actor(app), conversation_id))


@app.route("/v1/staff/media/uploads", methods=["POST"])
def staff_media_upload() -> Response:
    actor = staff_actor(app)
    return json_response(
        presign_upload(actor.shop_id, f"staff/{actor.username}", body(app, UploadRequest)),
        status=201,
    )
