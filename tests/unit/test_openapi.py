"""Specification: docs/openapi.yaml describes exactly the HTTP API the functions serve — the same
routes, the credentials each handler checks, the query parameters it reads, and request-body
schemas equal to the msgspec structs that validate the requests."""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from infra import openapi

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.yaml"
JSON_TYPE = "application/json"

# Sign-in endpoints anyone may call: the credentials are in the body.
PUBLIC = {("post", "/v1/auth/wechat"), ("post", "/v1/staff/login")}
# Staff sign-in's further steps: a challenge session or a refresh token in the body or cookie.
PUBLIC |= {("post", f"/v1/staff/login/{step}") for step in ("new-password", "mfa", "refresh")}
BEARER = {
    "staff_actor": "staffToken",
    "staff_identity": "staffToken",  # the token verified, the staff record read with other items
    "customer_actor": "customerToken",
}


@cache
def _doc() -> dict[str, Any]:
    return yaml.load(DOCUMENT.read_text(encoding="utf-8"), yaml.CSafeLoader)  # libyaml: faster


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): item[method]
        for path, item in _doc()["paths"].items()
        for method in item
        if method in openapi.HTTP_METHODS
    }


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = _doc()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _parameters(path: str, method: str) -> list[dict[str, Any]]:
    item = _doc()["paths"][path]
    return [_resolve(p) for p in [*item.get("parameters", []), *item[method].get("parameters", [])]]


# --------------------------------------------------------------------------------------------
# What the handlers do, read from their source
# --------------------------------------------------------------------------------------------


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@cache
def _handlers() -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) -> what its view does: {"auth": bearer schemes it checks, "body": the
    struct it decodes or None, "query": parameters it reads, "raw": whether it reads raw_body}."""
    found = {}
    for source in sorted((ROOT / "functions").glob("*/app.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        module_calls = {
            n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)
        }  # helpers such as _push_query()
        for fn in module_calls.values():
            for deco in fn.decorator_list:
                if not (isinstance(deco, ast.Call) and _name(deco.func) == "route"):
                    continue
                path = deco.args[0].value
                methods = next(k.value for k in deco.keywords if k.arg == "methods")
                info: dict[str, Any] = {"auth": set(), "body": None, "query": set(), "raw": False}
                for node in ast.walk(fn):
                    if isinstance(node, ast.Attribute) and node.attr == "raw_body":
                        info["raw"] = True
                    if not isinstance(node, ast.Call):
                        continue
                    called = _name(node.func)
                    if called in BEARER:
                        info["auth"].add(BEARER[called])
                    elif called == "body":
                        info["body"] = _name(node.args[1])
                    elif called == "query":
                        info["query"].add(node.args[1].value)
                    elif called == "_push_query":
                        info["query"].add("*")  # hands every query parameter on
                for method in methods.elts:
                    found[(method.value.lower(), path)] = info
    return found


# --------------------------------------------------------------------------------------------
# The document as a whole
# --------------------------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_0():
    validator = pytest.importorskip("openapi_spec_validator")
    assert _doc()["openapi"] == "3.0.3"
    validator.validate(_doc())


def test_documented_routes_are_exactly_the_routes_the_functions_serve():
    served, documented = openapi.code_routes(), openapi.document_routes(_doc())
    assert documented == served, (
        f"undocumented: {sorted(served - documented)}; not served: {sorted(documented - served)}"
    )
    assert served == set(_handlers()), "the source scan and the Chalice apps disagree"


def test_the_generator_agrees_with_the_document():
    assert openapi.diff() == "", "run: python -m infra.openapi --write"


@pytest.mark.parametrize("route", sorted(_operations()), ids=" ".join)
def test_every_operation_is_described_and_answers_success_and_client_errors(route):
    op = _operations()[route]
    assert op.get("summary"), f"{route}: no summary"
    assert "Who may call" in op.get("description", ""), f"{route}: say who may call it"
    statuses = set(op["responses"])
    assert any(s.startswith("2") for s in statuses), f"{route}: no 2xx response"
    assert any(s.startswith("4") for s in statuses), f"{route}: no 4xx response"
    for status, response in op["responses"].items():
        response = _resolve(response)
        assert response.get("description"), f"{route} {status}: no description"
        json_schema = (response.get("content") or {}).get(JSON_TYPE, {}).get("schema")
        if status.startswith(("4", "5")) and json_schema:
            assert json_schema == {"$ref": "#/components/schemas/Error"}, f"{route} {status}"


@pytest.mark.parametrize("route", sorted(_operations()), ids=" ".join)
def test_every_operation_states_the_credentials_its_handler_checks(route):
    op = _operations()[route]
    assert "security" in op, f"{route}: state its security (or security: [] if public)"
    schemes = {name for requirement in op["security"] for name in requirement}
    assert schemes <= set(_doc()["components"]["securitySchemes"]), route
    if route in PUBLIC:
        assert not schemes, f"{route} is a public sign-in endpoint"
        return
    assert schemes, f"{route}: only sign-in endpoints may be public"
    bearer = schemes & set(BEARER.values())
    assert bearer == _handlers()[route]["auth"], f"{route}: documented {bearer}"
    if not bearer:  # the signed endpoints: WeChat's push and the shop server's app login
        assert schemes in ({"wechatSignature"}, {"appSignature"}, {"shopSignature"}), route
    if "staffToken" in bearer:
        assert "401" in op["responses"] and "403" in op["responses"], route


@pytest.mark.parametrize("route", sorted(_operations()), ids=" ".join)
def test_every_request_body_is_the_struct_its_handler_decodes(route):
    op, handler = _operations()[route], _handlers()[route]
    if handler["body"] is None:
        assert "requestBody" not in op or handler["raw"], f"{route} reads no body"
        return
    content = op["requestBody"]["content"]
    assert op["requestBody"].get("required") is True, route
    assert set(content) == {JSON_TYPE}, route
    assert content[JSON_TYPE]["schema"] == {"$ref": f"#/components/schemas/{handler['body']}"}
    assert handler["body"] in openapi.REQUEST_BODIES, f"add {handler['body']} to the generator"
    responses = op["responses"]
    assert "400" in responses and "413" in responses and "415" in responses, route


@pytest.mark.parametrize("route", sorted(_operations()), ids=" ".join)
def test_every_query_parameter_the_handler_reads_is_documented(route):
    method, path = route
    documented = {p["name"] for p in _parameters(path, method) if p["in"] == "query"}
    read = _handlers()[route]["query"] - {"*"}
    assert read <= documented, f"{route}: undocumented query parameters {read - documented}"
    if "*" not in _handlers()[route]["query"]:
        assert documented <= read, f"{route}: documents {documented - read}, reads none of them"


def test_list_endpoints_share_the_paging_parameters():
    for method, path in _handlers():
        params = {p["name"]: p for p in _parameters(path, method) if p["in"] == "query"}
        if "limit" in params:
            schema = params["limit"]["schema"]
            assert (schema["minimum"], schema["maximum"]) == (1, 100), path
        for cursor in ("after", "before"):
            if cursor in params:
                assert params[cursor]["schema"]["pattern"] == r"^\d{13}#[A-Za-z0-9_]{1,64}$"


# --------------------------------------------------------------------------------------------
# Request-body schemas against msgspec
# --------------------------------------------------------------------------------------------


def _types(prop: dict[str, Any]) -> set[str]:
    """The JSON types a property schema allows, in either dialect."""
    if "anyOf" in prop:
        return set().union(*(_types(p) for p in prop["anyOf"]))
    kinds = set()
    if "type" in prop:
        kinds.add(prop["type"])
    elif "enum" in prop:
        kinds.add("string")
    if prop.get("nullable"):
        kinds.add("null")
    return kinds


def _struct_types() -> dict[str, Any]:
    return openapi.request_body_types()


@pytest.mark.parametrize("name", sorted(openapi.REQUEST_BODIES))
def test_request_body_schema_matches_msgspec(name):
    doc_schema = _doc()["components"]["schemas"][name]
    generated = msgspec.json.schema(_struct_types()[name])
    defs = generated.get("$defs", {})
    if "anyOf" in generated:  # a tagged union
        members = {ref["$ref"].rsplit("/", 1)[1] for ref in generated["anyOf"]}
        assert {r["$ref"].rsplit("/", 1)[1] for r in doc_schema["oneOf"]} == members
        discriminator = generated["discriminator"]["propertyName"]  # "type", or "as"
        assert doc_schema["discriminator"]["propertyName"] == discriminator
        mapping = {
            k: v.rsplit("/", 1)[1] for k, v in doc_schema["discriminator"]["mapping"].items()
        }
        assert mapping == {
            k: v.rsplit("/", 1)[1] for k, v in generated["discriminator"]["mapping"].items()
        }
        pairs = [(m, defs[m]) for m in members]
    else:
        pairs = [(name, defs[generated["$ref"].rsplit("/", 1)[1]])]
    for component, expected in pairs:
        actual = _doc()["components"]["schemas"][component]
        assert set(actual["properties"]) == set(expected["properties"]), component
        assert set(actual.get("required", [])) == set(expected.get("required", [])), component
        assert actual.get("additionalProperties") is False, f"{component} forbids unknown fields"
        for prop, spec in expected["properties"].items():
            assert _types(actual["properties"][prop]) == _types(spec), f"{component}.{prop}"
            for bound in ("pattern", "minLength", "maxLength", "minimum", "maximum"):
                plain = next((s for s in spec.get("anyOf", [spec]) if bound in s), {})
                got = actual["properties"][prop].get(bound)
                assert got == plain.get(bound), f"{component}.{prop}.{bound}"


def _json_examples(media: dict[str, Any]) -> list[Any]:
    found = [media["example"]] if "example" in media else []
    found += [_resolve(e)["value"] for e in (media.get("examples") or {}).values()]
    return found


@pytest.mark.parametrize("route", sorted(_operations()), ids=" ".join)
def test_request_examples_are_accepted_by_the_handler_struct(route):
    body = _handlers()[route]["body"]
    if body is None:
        return
    media = _operations()[route]["requestBody"]["content"][JSON_TYPE]
    examples = _json_examples(media)
    assert examples, f"{route}: give an example request body"
    for example in examples:
        msgspec.json.decode(json.dumps(example), type=_struct_types()[body])


def test_response_examples_match_their_schemas():
    validators = pytest.importorskip("openapi_schema_validator")
    checked = 0
    for op in _operations().values():
        for response in op["responses"].values():
            media = (_resolve(response).get("content") or {}).get(JSON_TYPE)
            if not media:
                continue
            schema = {**media["schema"], "components": _doc()["components"]}
            for example in _json_examples(media):
                validators.validate(example, schema, cls=validators.OAS30Validator)
                checked += 1
    assert checked >= 3
