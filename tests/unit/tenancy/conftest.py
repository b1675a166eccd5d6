"""The in-process API gateway of the handler tests (tests/unit/functions/conftest.py)."""

from tests.unit.functions.conftest import gateway, staff_token  # noqa: F401 - fixtures
