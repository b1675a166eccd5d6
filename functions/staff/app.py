"""Staff accounts and the audit trail, for the shop's owner and supervisors."""

from chalice import Chalice
from kefu import staff
from kefu.audit import list_audit
from kefu.auth.permissions import AUDIT_READ, require
from kefu.http import body, install_error_handling, json_response, query, request_id, staff_actor
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-staff")
install_error_handling(app)


@app.route("/v1/staff/me", methods=["GET"])
def me():
    actor = staff_actor(app).at_home()  # platform staff on a seller: their own record
    return json_response(staff.get_staff(actor.shop_id, actor.username).to_public())


@app.route("/v1/staff", methods=["GET"])
def list_staff():
    actor = staff_actor(app)
    items, cursor = staff.list_staff(
        actor, limit=page_limit(query(app, "limit")), cursor=query(app, "cursor")
    )
    return json_response({"staff": items, "next_cursor": cursor})


@app.route("/v1/staff", methods=["POST"])
def create_staff():
    actor = staff_actor(app)
    created = staff.create_staff(actor, body(app, staff.NewStaff), request_id=request_id(app))
    return json_response(created, status=201)


@app.route("/v1/staff/{username}", methods=["PATCH"])
def update_staff(username: str):
    actor = staff_actor(app)
    change = body(app, staff.StaffChange)
    return json_response(staff.update_staff(actor, username, change, request_id=request_id(app)))


@app.route("/v1/audit", methods=["GET"])
def audit():
    actor = staff_actor(app)
    require(actor, AUDIT_READ)
    target_type, target_id = query(app, "target_type"), query(app, "target_id")
    records, cursor = list_audit(
        actor.shop_id,
        limit=page_limit(query(app, "limit")),
        cursor=query(app, "cursor"),
        target=(target_type, target_id) if target_type and target_id else None,
    )
    return json_response({"audit": records, "next_cursor": cursor})
