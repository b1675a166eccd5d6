"""The shop's own back end reports orders, logistics, refunds, cart and browsing events."""

from chalice import Chalice, Response
from kefu.http import install_error_handling, json_response
from kefu.shop_events import receive

app = Chalice(app_name="kefu-shop-events")
install_error_handling(app)


@app.route("/v1/shop-events", methods=["POST"])
def shop_events() -> Response:
    request = app.current_request
    # The body is read raw: the signature covers its exact bytes.
    result = receive(
        request.headers.get("x-kefu-shop"),
        request.headers.get("x-kefu-signature"),
        request.raw_body,
    )
    return json_response(result, status=202)
