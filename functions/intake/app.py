"""Intake: customers' messages from kefu's client API and from WeChat's push."""

from chalice import Chalice, Response
from kefu.conversations.content import CustomerMessage
from kefu.conversations.customer import customer_messages
from kefu.conversations.views import message_view
from kefu.http import body, customer_actor, install_error_handling, json_response, query
from kefu.intake import receive_from_client, receive_wechat_push, verify_wechat_url
from kefu.media import UploadRequest, presign_upload
from kefu.pagination import page_limit
from kefu.storage.messages import Message, conversation_key

app = Chalice(app_name="kefu-intake")
install_error_handling(app)

WECHAT_CONTENT_TYPES = ["application/json", "text/xml", "application/xml", "text/plain"]
MAX_PUSH_BYTES = 64 * 1024


@app.route("/v1/messages", methods=["POST"])
def send_message() -> Response:
    actor = customer_actor(app)
    received = receive_from_client(actor, body(app, CustomerMessage))
    stored = Message.get(
        conversation_key(actor.shop_id, received.conversation_id), received.msg_key
    )
    return json_response(
        {
            "message": message_view(stored, for_customer=True),
            "conversation_id": received.conversation_id,
            "duplicate": received.duplicate,
        },
        status=200 if received.duplicate else 201,
    )


@app.route("/v1/messages", methods=["GET"])
def read_messages() -> Response:
    actor = customer_actor(app)
    return json_response(
        customer_messages(
            actor,
            conversation_id=query(app, "conversation_id"),
            after=query(app, "after"),
            before=query(app, "before"),
            limit=page_limit(query(app, "limit")),
        )
    )


@app.route("/v1/media/uploads", methods=["POST"])
def media_upload() -> Response:
    actor = customer_actor(app)
    return json_response(
        presign_upload(actor.shop_id, f"customers/{actor.customer_id}", body(app, UploadRequest)),
        status=201,
    )


def _plain(text: str, status: int = 200) -> Response:
    return Response(body=text, status_code=status, headers={"Content-Type": "text/plain"})


def _push_query() -> dict[str, str]:
    return dict(app.current_request.query_params or {})


@app.route("/v1/wechat/{shop_id}/push", methods=["GET"])
def wechat_verify(shop_id: str) -> Response:
    from kefu.channels.wechat.push import PushRejected

    try:
        return _plain(verify_wechat_url(shop_id, _push_query()))
    except PushRejected as exc:
        return _plain(str(exc), exc.status)


@app.route("/v1/wechat/{shop_id}/push", methods=["POST"], content_types=WECHAT_CONTENT_TYPES)
def wechat_push(shop_id: str) -> Response:
    from kefu.channels.wechat.push import PushRejected

    raw = app.current_request.raw_body or b""
    if len(raw) > MAX_PUSH_BYTES:
        return _plain(f"body exceeds {MAX_PUSH_BYTES} bytes", 413)
    try:
        receive_wechat_push(
            shop_id, _push_query(), raw, app.current_request.headers.get("content-type")
        )
    except PushRejected as exc:
        return _plain(str(exc), exc.status)
    # WeChat wants "success" (or an empty body) at once; anything slow happens downstream.
    return _plain("success")
