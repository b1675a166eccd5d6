"""Unit-test wiring shared by every capability's specifications."""

import pytest

from tests.support.botocore_cache import shared_service_models
from tests.support.moto_atomic import atomic_dynamodb_requests
from tests.support.moto_speed import faster_attribute_values, parsed_jsonpaths_kept


@pytest.fixture(autouse=True, scope="session")
def _shared_botocore_models():
    """Parse each AWS service model once per run, not once per test (speed only)."""
    with shared_service_models():
        yield


@pytest.fixture(autouse=True, scope="session")
def _faster_attribute_values():
    """moto answers DynamoDB's attribute values without its alias search (speed only; the
    same bytes: tests/unit/test_moto_speed.py)."""
    with faster_attribute_values():
        yield


@pytest.fixture(autouse=True, scope="session")
def _parsed_jsonpaths_kept():
    """moto's EventBridge parses each JSONPath of its input template once per run, not once per
    event delivered (speed only)."""
    with parsed_jsonpaths_kept():
        yield


@pytest.fixture(autouse=True)
def _atomic_dynamodb():
    """Each DynamoDB request is atomic, as in the real service (moto's are not under threads)."""
    with atomic_dynamodb_requests():
        yield
