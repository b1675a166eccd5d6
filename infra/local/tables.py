"""kefu's DynamoDB tables outside a deployed stack: which environment variable names each of
template.yaml's tables to the code, and creating them in moto as the template declares them.
Shared by the tests' fake AWS (tests/support/aws.py) and the benchmarks' (infra/bench/moto_env.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from infra.local.template import load_yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

# template.yaml's logical id -> the environment variable the code reads the table's name from.
TABLE_ENV = {
    "ShopsTable": "SHOPS_TABLE",
    "CustomersTable": "CUSTOMERS_TABLE",
    "ConversationsTable": "CONVERSATIONS_TABLE",
    "MessagesTable": "MESSAGES_TABLE",
    "AuditTable": "AUDIT_TABLE",
    "RuntimeTable": "RUNTIME_TABLE",
    "OrdersTable": "ORDERS_TABLE",
    "WorkbenchTable": "WORKBENCH_TABLE",
    "TicketsTable": "TICKETS_TABLE",
    "ConnectionsTable": "CONNECTIONS_TABLE",
    "BotTable": "BOT_TABLE",
    "SegmentsTable": "SEGMENTS_TABLE",
    "TagsTable": "TAGS_TABLE",
    "JobsTable": "JOBS_TABLE",
}


def create_tables_from_template(dynamodb: Any, template: Path = TEMPLATE) -> None:
    """Every table the template declares, named by os.environ[TABLE_ENV[logical id]]. Key
    schemas and indexes come from template.yaml, so models and template cannot drift."""
    resources = load_yaml(template)["Resources"]
    tables = [k for k, r in resources.items() if r.get("Type") == "AWS::DynamoDB::Table"]
    # A table the map does not know would be silently missing from every fake AWS: say so.
    unknown = [t for t in tables if t not in TABLE_ENV]
    if unknown:
        raise KeyError(f"{', '.join(unknown)}: add the environment variable to {__name__}")
    for logical_id in tables:
        props = resources[logical_id]["Properties"]
        kwargs = {
            "TableName": os.environ[TABLE_ENV[logical_id]],
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(kind):
                kwargs[kind] = props[kind]
        dynamodb.create_table(**kwargs)
