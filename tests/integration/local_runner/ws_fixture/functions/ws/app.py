"""Records every WebSocket event; answers by route (see test_websocket.py)."""

import json
import os

import boto3

EVENTS: list[dict] = []


def handler(event, context):
    EVENTS.append(event)
    ctx = event["requestContext"]
    route = ctx["routeKey"]
    if route == "$connect":
        token = (event.get("queryStringParameters") or {}).get("token")
        return {"statusCode": 200 if token == "good" else 401}
    if route == "echo":
        return {"statusCode": 200, "body": json.dumps({"echo": json.loads(event["body"])})}
    if route == "push":
        api = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["CALLBACK_URL"])
        frame = json.loads(event["body"])
        target = frame.get("to") or ctx["connectionId"]
        try:
            api.post_to_connection(ConnectionId=target, Data=b'{"pushed":true}')
            info = api.get_connection(ConnectionId=target)
            result = {"pushed": True, "source_ip": info["Identity"]["SourceIp"]}
        except api.exceptions.GoneException:
            result = {"gone": True}
        api.post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps(result).encode())
        return {"statusCode": 200, "body": "not sent: one-way route"}
    if route == "boom":
        raise RuntimeError("boom")
    if route == "$default":
        return {"statusCode": 200, "body": "default:" + event["body"]}
    return {"statusCode": 200}
