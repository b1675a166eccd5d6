"""Sign-in for customers (WeChat code, or the shop's signed app/H5 user) and staff (Cognito)."""

from http.cookies import SimpleCookie

from chalice import Chalice, Response
from kefu.auth.customer_login import AppLogin, WeChatLogin, login_app_user, login_with_wechat
from kefu.errors import BadRequest
from kefu.http import (
    bearer_token,
    body,
    install_error_handling,
    json_response,
    query,
    request_id,
    staff_actor,
)
from kefu.staff import login as staff

app = Chalice(app_name="kefu-auth")
install_error_handling(app)

REFRESH_COOKIE = "kefu_refresh"
REFRESH_COOKIE_PATH = "/v1/staff/login/refresh"
REFRESH_COOKIE_SECONDS = 30 * 86400  # the app client's RefreshTokenValidity


@app.route("/v1/auth/wechat", methods=["POST"])
def wechat_login() -> Response:
    return json_response(login_with_wechat(body(app, WeChatLogin)))


@app.route("/v1/auth/app", methods=["POST"])
def app_user_login() -> Response:
    req = body(app, AppLogin)
    signature = app.current_request.headers.get("x-kefu-signature")
    return json_response(login_app_user(app.current_request.raw_body, signature, req))


def _wants_cookie(flag: bool, param: str | None) -> bool:
    if param not in (None, "1", "true", "0", "false"):
        raise BadRequest("refresh_cookie must be 1 or 0", code="invalid_refresh_cookie")
    return flag or param in ("1", "true")


def _signed_in(result: dict, cookie: bool):
    """Scripts get the refresh token in the JSON body; the console (cookie) gets it in an
    HttpOnly Secure SameSite=Strict cookie sent only to the refresh endpoint, out of reach
    of the page's scripts, and not in the body."""
    token = result.get("refresh_token")
    if not cookie or not token:
        return json_response(result)
    result = {**result, "refresh_token": None, "refresh_token_in_cookie": True}
    return json_response(
        result,
        headers={
            "Set-Cookie": f"{REFRESH_COOKIE}={token}; Max-Age={REFRESH_COOKIE_SECONDS}; "
            f"Path={REFRESH_COOKIE_PATH}; HttpOnly; Secure; SameSite=Strict"
        },
    )


@app.route("/v1/staff/login", methods=["POST"])
def staff_sign_in() -> Response:
    req = body(app, staff.StaffLogin)
    result = staff.staff_login(req, request_id=request_id(app))
    return _signed_in(result, _wants_cookie(req.refresh_cookie, query(app, "refresh_cookie")))


@app.route("/v1/staff/login/new-password", methods=["POST"])
def staff_new_password() -> Response:
    req = body(app, staff.StaffNewPassword)
    result = staff.answer_new_password(req, request_id=request_id(app))
    return _signed_in(result, _wants_cookie(req.refresh_cookie, query(app, "refresh_cookie")))


@app.route("/v1/staff/login/mfa", methods=["POST"])
def staff_mfa() -> Response:
    req = body(app, staff.StaffMfaAnswer)
    result = staff.answer_mfa(req, request_id=request_id(app))
    return _signed_in(result, _wants_cookie(req.refresh_cookie, query(app, "refresh_cookie")))


@app.route("/v1/staff/login/refresh", methods=["POST"])
def staff_refresh() -> Response:
    req = body(app, staff.StaffRefresh)  # {} when the token is in the cookie
    token = req.refresh_token
    if token is None:
        jar = SimpleCookie()
        request = app.current_request
        assert request is not None  # inside a view
        jar.load(request.headers.get("cookie") or "")
        token = jar[REFRESH_COOKIE].value if REFRESH_COOKIE in jar else None
    return json_response(staff.refresh(token, request_id=request_id(app)))


@app.route("/v1/staff/logout", methods=["POST"])
def staff_sign_out() -> Response:
    """Revokes the refresh tokens and expires the HttpOnly cookie, which only the server can."""
    actor = staff_actor(app)
    result = staff.sign_out(actor, bearer_token(app), request_id=request_id(app))
    return json_response(
        result,
        headers={
            "Set-Cookie": f"{REFRESH_COOKIE}=; Max-Age=0; Path={REFRESH_COOKIE_PATH}; "
            "HttpOnly; Secure; SameSite=Strict"
        },
    )
