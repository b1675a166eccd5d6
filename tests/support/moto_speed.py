"""Shortcuts through moto's slowest code, with the same results: its response serializer for
DynamoDB's attribute values, and EventBridge's parsing of JSONPaths for every event.

moto serialises every response by walking the botocore model: for each member of each
structure it builds a context and tries every alias the member might be stored under. An
AttributeValue has ten members and an item is mostly attribute values, so a query answering
with a few items costs tens of thousands of such lookups: a third of what a DynamoDB request
costs the unit tests. An attribute value moto answers with is a dict keyed by member names
("S", "M", …); for such a dict, the walk picks exactly the members present (no alias of
an AttributeValue member is another member's name), so serialising just those gives the same
bytes. Anything else still takes moto's own path; tests/unit/test_moto_speed.py compares the two.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.serialize import BaseJSONSerializer

ATTRIBUTE_VALUE = "AttributeValue"
_MOTOS_OWN = BaseJSONSerializer._serialize_type_structure


@contextmanager
def motos_own_serializer() -> Iterator[None]:
    """moto's serializer as moto ships it, for the duration (whatever is patched meanwhile)."""
    patched = BaseJSONSerializer._serialize_type_structure
    BaseJSONSerializer._serialize_type_structure = _MOTOS_OWN
    try:
        yield
    finally:
        BaseJSONSerializer._serialize_type_structure = patched


@contextmanager
def faster_attribute_values() -> Iterator[None]:
    original = _MOTOS_OWN

    def serialize_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        members = shape.members
        if (
            shape.name != ATTRIBUTE_VALUE
            or type(value) is not dict
            or not value.keys() <= members.keys()
            or self.operation_model.service_model.service_name != "dynamodb"
        ):
            return original(self, serialized, value, shape, key)
        wrapper = self.MAP_TYPE() if key else serialized
        for member_key, member_shape in members.items():
            member_value = value.get(member_key)
            if member_value is not None:
                member_shape.parent = shape
                self._serialize(wrapper, member_value, member_shape, member_key)
        if key:
            self._default_serialize(serialized, wrapper, shape, key)
        return None

    before = BaseJSONSerializer._serialize_type_structure
    BaseJSONSerializer._serialize_type_structure = serialize_structure
    try:
        yield
    finally:
        BaseJSONSerializer._serialize_type_structure = before


@contextmanager
def parsed_jsonpaths_kept() -> Iterator[None]:
    """moto's EventBridge parses the same eight JSONPath expressions (building a parser each
    time) for every event it delivers to a target; a parsed expression is only read, so one
    parse per expression serves every event."""
    import jsonpath_ng.ext

    original = jsonpath_ng.ext.parse
    jsonpath_ng.ext.parse = functools.cache(original)
    try:
        yield
    finally:
        jsonpath_ng.ext.parse = original
