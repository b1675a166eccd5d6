"""Test-wide setup: an isolated fake AWS environment before any kefu module is imported."""

import os

# Module-level on purpose: pynamodb models read their table names when first imported.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "STAGE": "test",
        "SHOPS_TABLE": "kefu-test-shops",
        "CUSTOMERS_TABLE": "kefu-test-customers",
        "CONVERSATIONS_TABLE": "kefu-test-conversations",
        "MESSAGES_TABLE": "kefu-test-messages",
        "AUDIT_TABLE": "kefu-test-audit",
        "RUNTIME_TABLE": "kefu-test-runtime",
        "ORDERS_TABLE": "kefu-test-orders",
        "WORKBENCH_TABLE": "kefu-test-workbench",
        "TICKETS_TABLE": "kefu-test-tickets",
        "BOT_TABLE": "kefu-test-bot",
        "SEGMENTS_TABLE": "kefu-test-segments",
        "TAGS_TABLE": "kefu-test-tags",
        "JOBS_TABLE": "kefu-test-jobs",
        "CONNECTIONS_TABLE": "kefu-test-connections",
        "EVENT_BUS_NAME": "kefu-test-events",
        "MEDIA_BUCKET": "kefu-test-media",
        "KNOWLEDGE_BUCKET": "kefu-test-knowledge",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "kefu-test",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

pytest_plugins = ["tests.support.aws"]


def pytest_collection_modifyitems(config, items) -> None:
    """Under pytest-xdist (`make test` runs two workers), each local stack's tests stay together
    on one worker, in order, so each stack starts once: tests/integration's and tests/contract's
    may run beside each other, and the unit tests spread over both workers."""
    import pytest

    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):  # the package-scoped local stack
            package = item.nodeid.split("/")[1]  # integration or contract: one stack each
            item.add_marker(pytest.mark.xdist_group(f"stack-{package}"))
