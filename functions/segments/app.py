"""Segments (docs/segments.md): preview a filter while it is edited (count + first page), saved
segments with a cached count and its age, and a saved segment's customers page by page. Staff
read; owners and supervisors save, change and delete (audited)."""

from typing import TypeVar

from chalice import Chalice, Response
from kefu.http import install_error_handling, json_response, query, staff_actor
from kefu.pagination import page_limit
from kefu.segments import admin
from kefu.segments.filters import decode_filter_json

app = Chalice(app_name="kefu-segments")
install_error_handling(app)

MAX_BODY = 32 * 1024
T = TypeVar("T")


def body(app: Chalice, type_: type[T]) -> T:
    """kefu.http.body's decoding, after refusing a filter nested too deep to decode safely."""
    raw = app.current_request.raw_body if app.current_request is not None else b""
    raw = raw.encode() if isinstance(raw, str) else raw
    return decode_filter_json(raw or b"", type_, max_bytes=MAX_BODY)


@app.route("/v1/segments/preview", methods=["POST"])
def preview() -> Response:
    actor = staff_actor(app)
    return json_response(admin.preview(actor, body(app, admin.SegmentPreview)))


@app.route("/v1/segments", methods=["GET"])
def list_segments() -> Response:
    actor = staff_actor(app)
    limit = page_limit(query(app, "limit"))
    return json_response(admin.list_segments(actor, limit=limit, cursor=query(app, "cursor")))


@app.route("/v1/segments", methods=["POST"])
def create_segment() -> Response:
    actor = staff_actor(app)
    return json_response(admin.create_segment(actor, body(app, admin.NewSegment)), status=201)


@app.route("/v1/segments/{segment_id}", methods=["GET"])
def get_segment(segment_id: str) -> Response:
    return json_response(admin.read_segment(staff_actor(app), segment_id))


@app.route("/v1/segments/{segment_id}", methods=["PATCH"])
def update_segment(segment_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(admin.update_segment(actor, segment_id, body(app, admin.SegmentChange)))


@app.route("/v1/segments/{segment_id}", methods=["DELETE"])
def delete_segment(segment_id: str) -> Response:
    admin.delete_segment(staff_actor(app), segment_id)
    return json_response({"segment_id": segment_id, "deleted": True})


@app.route("/v1/segments/{segment_id}/refresh", methods=["POST"])
def refresh_segment(segment_id: str) -> Response:
    return json_response(admin.refresh_segment(staff_actor(app), segment_id))


@app.route("/v1/segments/{segment_id}/customers", methods=["GET"])
def segment_customers(segment_id: str) -> Response:
    actor = staff_actor(app)
    return json_response(
        admin.segment_customers(
            actor,
            segment_id,
            sort=query(app, "sort") or "newest",
            cursor=query(app, "cursor"),
            limit=page_limit(query(app, "limit"), default=20),
        )
    )
