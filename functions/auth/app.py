"""Sign-in for customers (WeChat code, or the shop's signed app/H5 user) and staff (Cognito)."""

from chalice import Chalice
from kefu.auth.customer_login import AppLogin, WeChatLogin, login_app_user, login_with_wechat
from kefu.http import body, install_error_handling, json_response
from kefu.staff import StaffLogin, staff_login

app = Chalice(app_name="kefu-auth")
install_error_handling(app)


@app.route("/v1/auth/wechat", methods=["POST"])
def wechat_login():
    return json_response(login_with_wechat(body(app, WeChatLogin)))


@app.route("/v1/auth/app", methods=["POST"])
def app_user_login():
    req = body(app, AppLogin)
    signature = app.current_request.headers.get("x-kefu-signature")
    return json_response(login_app_user(app.current_request.raw_body, signature, req))


@app.route("/v1/staff/login", methods=["POST"])
def staff_sign_in():
    return json_response(staff_login(body(app, StaffLogin)))
