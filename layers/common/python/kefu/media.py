"""Media (pictures, voice) go straight from the client to S3 with a presigned POST, so a
Lambda never carries the bytes; messages then refer to the object by key."""

from __future__ import annotations

import secrets
import time

import msgspec

from kefu.aws import client
from kefu.config import settings
from kefu.errors import BadRequest

MAX_BYTES = 10 * 1024 * 1024  # WeChat's limit for temporary image media
UPLOAD_URL_TTL = 600
DOWNLOAD_URL_TTL = 3600

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "audio/amr": "amr",
    "audio/mpeg": "mp3",
    "audio/aac": "aac",
    "audio/mp4": "m4a",
}


class UploadRequest(msgspec.Struct, forbid_unknown_fields=True):
    content_type: str
    size: int


def owner_prefix(shop_id: str, owner: str) -> str:
    """owner is "customers/<id>" or "staff/<username>": media is filed under who sent it."""
    return f"{shop_id}/{owner}/"


def presign_upload(shop_id: str, owner: str, req: UploadRequest) -> dict:
    ext = EXTENSIONS.get(req.content_type)
    if ext is None:
        raise BadRequest(
            f"content_type {req.content_type!r} is not accepted; use one of "
            + ", ".join(sorted(EXTENSIONS)),
            code="unsupported_media",
        )
    if not 0 < req.size <= MAX_BYTES:
        raise BadRequest(f"size must be between 1 and {MAX_BYTES} bytes", code="invalid_size")
    key = f"{owner_prefix(shop_id, owner)}{time.strftime('%Y/%m/%d')}/{secrets.token_hex(12)}.{ext}"
    post = client("s3").generate_presigned_post(
        Bucket=settings().media_bucket,
        Key=key,
        Fields={"Content-Type": req.content_type},
        Conditions=[
            {"Content-Type": req.content_type},
            ["content-length-range", 1, req.size],
        ],
        ExpiresIn=UPLOAD_URL_TTL,
    )
    return {"media_key": key, "upload": post, "expires_in": UPLOAD_URL_TTL}


def check_media_key(shop_id: str, owner: str, key: str) -> None:
    if not key.startswith(owner_prefix(shop_id, owner)) or ".." in key:
        raise BadRequest(
            "media_key was not issued to you by /v1/media/uploads", code="invalid_media"
        )


def download_url(key: str) -> str:
    return client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": settings().media_bucket, "Key": key},
        ExpiresIn=DOWNLOAD_URL_TTL,
    )


def fetch(key: str) -> tuple[bytes, str]:
    obj = client("s3").get_object(Bucket=settings().media_bucket, Key=key)
    return obj["Body"].read(), obj.get("ContentType", "application/octet-stream")
