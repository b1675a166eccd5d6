"""The API contract tests (schemathesis over docs/openapi.yaml) get a local stack of their own.

The fuzzer signs in as the demo shop's owner and changes whatever the spec lets an owner change
(bot settings, routing rules, the SLA calendar, staff, the knowledge base...). On the stack that
tests/integration shares, that would make later tests depend on what the fuzzer happened to
generate; here it is a separate package, so the stack below starts fresh and stops after it.
"""

from __future__ import annotations

# The same package-scoped fixtures as tests/integration: imported here, they are registered for
# this package, so this package starts (and stops) its own stack.
from tests.integration.conftest import api, owner, stack, standin  # noqa: F401
