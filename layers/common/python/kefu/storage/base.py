from __future__ import annotations

import os

from pynamodb.models import Model


def table_name(env_var: str, default: str) -> str:
    return os.environ.get(env_var, default)


class KefuModel(Model):
    """Base for every model: region from the Lambda environment; endpoint from AWS_ENDPOINT_URL."""

    class Meta:
        abstract = True
        region = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
