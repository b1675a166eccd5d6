"""Customer profiles (docs/customers.md): list and search, read (masked unless revealed, and
then audited), edit, custom attributes, merge, export and erasure."""

from chalice import Chalice, Response
from kefu.customers import attributes, erasure, export_job, merge, profiles, search, transfers_api
from kefu.customers.attributes import AttributeChange, NewAttribute
from kefu.customers.fields import ProfileChange
from kefu.customers.merge import MergeRequest
from kefu.http import body, install_error_handling, json_response, query, request_id, staff_actor
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-customers")
install_error_handling(app)


@app.route("/v1/customers", methods=["GET"])
def list_customers() -> Response:
    actor = staff_actor(app)
    return json_response(
        search.list_customers(
            actor,
            q=query(app, "q"),
            order_id=query(app, "order_id"),
            limit=page_limit(query(app, "limit")),
            cursor=query(app, "cursor"),
            tag=query(app, "tag"),
            tier=query(app, "tier"),
            segment=query(app, "segment"),
            sort=query(app, "sort"),
        )
    )


@app.route("/v1/customers/{customer_id}", methods=["GET"])
def get_customer(customer_id: str) -> Response:
    actor = staff_actor(app)
    reveal = query(app, "reveal") == "true"
    return json_response(
        profiles.get_profile(
            actor.shop_id, customer_id, actor, reveal=reveal, request_id=request_id(app)
        )
    )


@app.route("/v1/customers/{customer_id}", methods=["PATCH"])
def update_customer(customer_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(profiles.update_profile(actor, customer_id, body(app, ProfileChange)))


@app.route("/v1/customer-attributes", methods=["GET"])
def list_attributes() -> Response:
    return json_response(attributes.list_attributes(staff_actor(app)))


@app.route("/v1/customer-attributes", methods=["POST"])
def create_attribute() -> Response:
    actor = staff_actor(app)
    return json_response(attributes.create_attribute(actor, body(app, NewAttribute)), status=201)


@app.route("/v1/customer-attributes/{attribute_id}", methods=["PATCH"])
def update_attribute(attribute_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(
        attributes.update_attribute(actor, attribute_id, body(app, AttributeChange))
    )


@app.route("/v1/customer-attributes/{attribute_id}", methods=["DELETE"])
def delete_attribute(attribute_id: str) -> Response:
    attributes.delete_attribute(staff_actor(app), attribute_id)
    return json_response({"attribute_id": attribute_id, "deleted": True})


@app.route("/v1/customers/{customer_id}/merge/preview", methods=["POST"])
def preview_merge(customer_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(merge.preview(actor, customer_id, body(app, MergeRequest)))


@app.route("/v1/customers/{customer_id}/merge", methods=["POST"])
def merge_customers(customer_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(merge.merge(actor, customer_id, body(app, MergeRequest)))


@app.route("/v1/customers/{customer_id}/export", methods=["GET"])
def export_customer(customer_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(erasure.export(actor, customer_id, request_id=request_id(app)))


@app.route("/v1/customers/{customer_id}/erase", methods=["POST"])
def erase_customer(customer_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(erasure.erase(actor, customer_id, request_id=request_id(app)))


@app.route("/v1/customers/imports/uploads", methods=["POST"])
def import_upload_url() -> Response:
    actor = staff_actor(app)
    return json_response(
        transfers_api.upload_url(actor, body(app, transfers_api.CustomerImportUploadRequest)),
        status=201,
    )


@app.route("/v1/customers/imports", methods=["POST"])
def submit_import() -> Response:
    actor = staff_actor(app)
    req = body(
        app, transfers_api.CustomerImportRequest, max_bytes=transfers_api.MAX_INLINE_BYTES * 2
    )
    return json_response(transfers_api.submit_import(actor, req), status=202)


@app.route("/v1/customers/imports/{job_id}", methods=["GET"])
def get_import(job_id: str) -> Response:
    return json_response(transfers_api.get_import(staff_actor(app), job_id))


@app.route("/v1/customers/imports/{job_id}/errors", methods=["GET"])
def import_errors(job_id: str) -> Response:
    return json_response(transfers_api.error_report(staff_actor(app), job_id))


@app.route("/v1/customers/exports", methods=["POST"])
def submit_export() -> Response:
    actor = staff_actor(app)
    req = body(app, export_job.CustomerExportRequest, max_bytes=256 * 1024)
    return json_response(export_job.submit_export(actor, req), status=202)


@app.route("/v1/customers/exports/{job_id}", methods=["GET"])
def get_export(job_id: str) -> Response:
    return json_response(export_job.get_export(staff_actor(app), job_id))
