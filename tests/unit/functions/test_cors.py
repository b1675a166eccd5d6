"""Specification: every answer of the REST API can be read by a browser on another origin (the
H5 widget on a shop's page, the console): API Gateway answers the preflight from template.yaml's
Cors, and each function's answer, success or error, carries the CORS headers itself."""

from tests.support.factories import make_shop


def test_a_customer_answer_carries_the_cors_headers(gateway, kefu_env):
    make_shop("shop-a")
    token = gateway.customer_token("shop-a")

    answer = gateway.post("/v1/messages", token=token, json_body={"type": "text", "text": "你好"})

    assert answer.status == 201, answer.text
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_an_error_carries_them_too_and_exposes_retry_after(gateway, kefu_env):
    answer = gateway.get("/v1/messages", token="not-a-token")

    assert answer.status == 401
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Expose-Headers"] == "Retry-After"


def test_the_preflight_allows_what_the_sdk_sends():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    with open("template.yaml", encoding="utf-8") as f:
        template = yaml.load(f, Loader=Loader)
    cors = template["Resources"]["KefuApi"]["Properties"]["Cors"]
    allowed = {h.strip().lower() for h in cors["AllowHeaders"].strip("'").split(",")}
    assert {"authorization", "content-type"} <= allowed
