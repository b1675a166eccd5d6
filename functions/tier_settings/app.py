"""The shop's tier settings (owners and supervisors; every change audited): RFM thresholds, the
tiers and their rules, points and member levels. docs/tiers.md."""

from chalice import Chalice, Response
from kefu.http import body, install_error_handling, json_response, staff_actor
from kefu.tiers import settings

app = Chalice(app_name="kefu-tier-settings")
install_error_handling(app)


@app.route("/v1/tier-settings", methods=["GET"])
def get_settings() -> Response:
    return json_response(settings.get_settings(staff_actor(app)))


@app.route("/v1/tier-settings", methods=["PUT"])
def put_settings() -> Response:
    actor = staff_actor(app)
    return json_response(settings.put_settings(actor, body(app, settings.TierSettingsPut)))
