"""Staff accounts and the audit trail, for the shop's owner and supervisors."""

from chalice import Chalice, Response
from kefu import staff
from kefu.audit import list_audit
from kefu.auth.permissions import AUDIT_READ, require
from kefu.http import (
    bearer_token,
    body,
    install_error_handling,
    json_response,
    query,
    request_id,
    staff_actor,
)
from kefu.pagination import page_limit
from kefu.shops import wechat_settings
from kefu.staff import mfa
from kefu.workbench.search import parse_time

app = Chalice(app_name="kefu-staff")
install_error_handling(app)


@app.route("/v1/staff/me", methods=["GET"])
def me() -> Response:
    actor = staff_actor(app).at_home()  # platform staff on a seller: their own record
    from kefu.tickets.sla import load_calendar

    # The shop's time zone (its business calendar's): every screen shows times in it, and an
    # agent may not read the calendar itself (GET /v1/sla/calendar is for supervisors).
    return json_response(
        {
            **staff.get_staff(actor.shop_id, actor.username).to_public(),
            "timezone": load_calendar(actor.shop_id).timezone,
        }
    )


@app.route("/v1/staff", methods=["GET"])
def list_staff() -> Response:
    actor = staff_actor(app)
    items, cursor = staff.list_staff(
        actor, limit=page_limit(query(app, "limit")), cursor=query(app, "cursor")
    )
    return json_response({"staff": items, "next_cursor": cursor})


@app.route("/v1/staff", methods=["POST"])
def create_staff() -> Response:
    actor = staff_actor(app)
    created = staff.create_staff(actor, body(app, staff.NewStaff), request_id=request_id(app))
    return json_response(created, status=201)


@app.route("/v1/staff/{username}", methods=["PATCH"])
def update_staff(username: str) -> Response:
    actor = staff_actor(app)
    change = body(app, staff.StaffChange)
    return json_response(staff.update_staff(actor, username, change, request_id=request_id(app)))


@app.route("/v1/staff/{username}/password-reset", methods=["POST"])
def reset_password(username: str) -> Response:
    actor = staff_actor(app)
    return json_response(staff.reset_password(actor, username, request_id=request_id(app)))


@app.route("/v1/staff/me/mfa/totp", methods=["POST"])
def associate_totp() -> Response:
    token = bearer_token(app)
    actor = staff_actor(app)
    return json_response(mfa.associate_totp(actor, token))


@app.route("/v1/staff/me/mfa/totp/verify", methods=["POST"])
def verify_totp() -> Response:
    token = bearer_token(app)
    actor = staff_actor(app)
    req = body(app, mfa.TotpVerify)
    return json_response(mfa.verify_totp(actor, token, req, request_id=request_id(app)))


@app.route("/v1/staff/me/mfa/totp", methods=["DELETE"])
def disable_totp() -> Response:
    token = bearer_token(app)
    actor = staff_actor(app)
    return json_response(mfa.disable_totp(actor, token, request_id=request_id(app)))


@app.route("/v1/audit", methods=["GET"])
def audit() -> Response:
    actor = staff_actor(app)
    require(actor, AUDIT_READ)
    actor_filter = query(app, "actor")
    if actor_filter and ":" not in actor_filter:
        actor_filter = f"staff:{actor_filter}"  # a bare username means that staff member
    records, cursor = list_audit(
        actor.shop_id,
        limit=page_limit(query(app, "limit")),
        cursor=query(app, "cursor"),
        actor=actor_filter,
        action=query(app, "action"),
        target_type=query(app, "target_type"),
        target_id=query(app, "target_id"),
        from_ms=parse_time(query(app, "from"), "from"),
        to_ms=parse_time(query(app, "to"), "to", end=True),
    )
    return json_response({"audit": records, "next_cursor": cursor})


@app.route("/v1/shop/wechat-settings", methods=["GET"])
def get_wechat_settings() -> Response:
    return json_response(wechat_settings.get_wechat_settings(staff_actor(app)))


@app.route("/v1/shop/wechat-settings", methods=["PUT"])
def put_wechat_settings() -> Response:
    actor = staff_actor(app)
    change = body(app, wechat_settings.WeChatSettingsPut)
    return json_response(
        wechat_settings.put_wechat_settings(actor, change, request_id=request_id(app))
    )
