"""Publish the built console to a deployed stack (`make deploy-console STACK=kefu-prod`).

    python -m infra.deploy_console --stack kefu-prod [--dist console/dist]

Reads the stack's outputs (ConsoleBucketName, ConsoleDistributionId, WebSocketUrl, the staff
pool's ids), uploads console/dist — hashed assets cached for a year, index.html re-validated —
writes config.json from the outputs (so one build serves every stage: no rebuild per
deployment), and invalidates the two files that change. A CloudFormation custom resource could
do this at deploy time, at the price of a Lambda function with bucket-write rights; a make step
run after `sam deploy` is lighter and as repeatable (docs/console.md).
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMMUTABLE = "public, max-age=31536000, immutable"


def console_config(outputs: dict[str, str], region: str) -> dict[str, Any]:
    """config.json (console/src/config.ts): the API on the console's own origin, since the
    distribution passes /v1/* to the REST API."""
    return {
        "apiBaseUrl": "",
        "webSocketUrl": outputs["WebSocketUrl"],
        "userPoolId": outputs.get("StaffUserPoolId"),
        "userPoolClientId": outputs.get("StaffUserPoolClientId"),
        "region": region,
    }


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def publish(dist: Path, outputs: dict[str, str], region: str, s3: Any) -> list[str]:
    """Uploads dist/ and config.json to the console bucket; returns the keys written."""
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist} has no index.html: run make console first")
    bucket = outputs["ConsoleBucketName"]
    written = []
    # Assets first, index.html last: a visitor never gets an index naming missing files.
    files = sorted(p for p in dist.rglob("*") if p.is_file() and p.name != "config.json")
    files.sort(key=lambda p: p.name == "index.html")
    for path in files:
        key = path.relative_to(dist).as_posix()
        cache = IMMUTABLE if key.startswith("assets/") else "no-cache"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            CacheControl=cache,
        )
        written.append(key)
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(console_config(outputs, region)).encode(),
        ContentType="application/json",
        CacheControl="no-store",
    )
    written.append("config.json")
    return written


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(prog="python -m infra.deploy_console", description=__doc__)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--dist", default=str(ROOT / "console" / "dist"))
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name or "us-east-1"
    outputs = stack_outputs(session.client("cloudformation"), args.stack)
    written = publish(Path(args.dist), outputs, region, session.client("s3"))
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["ConsoleDistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 2, "Items": ["/index.html", "/config.json"]},
            "CallerReference": f"kefu-console-{int(time.time())}",
        },
    )
    print(f"published {len(written)} files; console: {outputs.get('ConsoleUrl', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
