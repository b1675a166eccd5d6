"""Background jobs (docs/jobs.md): bulk operations on customers submitted, their progress, the
shop's jobs, the owner's approval of large ones, and the approval threshold."""

from chalice import Chalice, Response
from kefu.http import body, install_error_handling, json_response, query, staff_actor
from kefu.jobs import service
from kefu.pagination import page_limit

app = Chalice(app_name="kefu-jobs")
install_error_handling(app)


@app.route("/v1/jobs", methods=["POST"])
def submit() -> Response:
    actor = staff_actor(app)
    return json_response(service.submit(actor, body(app, service.NewJob)), status=202)


@app.route("/v1/jobs", methods=["GET"])
def list_jobs() -> Response:
    actor = staff_actor(app)
    return json_response(
        service.list_jobs(
            actor,
            status=query(app, "status"),
            limit=page_limit(query(app, "limit")),
            cursor=query(app, "cursor"),
        )
    )


@app.route("/v1/job-settings", methods=["GET"])
def get_settings() -> Response:
    return json_response(service.get_settings(staff_actor(app)))


@app.route("/v1/job-settings", methods=["PUT"])
def put_settings() -> Response:
    actor = staff_actor(app)
    return json_response(service.put_settings(actor, body(app, service.JobSettingsChange)))


@app.route("/v1/jobs/{job_id}", methods=["GET"])
def get_job(job_id: str) -> Response:
    return json_response(service.get_job(staff_actor(app), job_id))


@app.route("/v1/jobs/{job_id}/approve", methods=["POST"])
def approve(job_id: str) -> Response:
    return json_response(service.decide(staff_actor(app), job_id, approve=True))


@app.route("/v1/jobs/{job_id}/reject", methods=["POST"])
def reject(job_id: str) -> Response:
    return json_response(service.decide(staff_actor(app), job_id, approve=False))
