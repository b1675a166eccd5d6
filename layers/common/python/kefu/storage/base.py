from __future__ import annotations

import os
from typing import NamedTuple, Self

from pynamodb.models import Model

from kefu.errors import NotFound


class EnvTableName(NamedTuple):
    """A table name to read from the environment when the model is used, not when imported."""

    env_var: str
    default: str


def table_name(env_var: str, default: str) -> EnvTableName:
    return EnvTableName(env_var, default)


class _EnvMeta(type):
    """Metaclass of the models' Meta: `Meta.table_name` resolves an EnvTableName on each read.

    In Lambda the environment never changes, so this equals reading it at import; in a process
    that hosts several environments one after another (the test suite runs unit tests against
    in-process moto and integration tests against the local stack), each model follows the
    current one. pynamodb re-creates a model's connection when its table name changes.
    """

    @property
    def table_name(cls) -> str | None:
        for klass in cls.__mro__:
            value = klass.__dict__.get("table_name")
            if isinstance(value, EnvTableName):
                return os.environ.get(value.env_var, value.default)
            if value is not None:
                return value
        return None


class KefuModel(Model):
    """Base for every model: region from the Lambda environment; endpoint from AWS_ENDPOINT_URL."""

    class Meta(metaclass=_EnvMeta):
        abstract = True
        region = os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))

    @classmethod
    def get_or_404(
        cls,
        hash_key: str,
        range_key: str | None = None,
        *,
        message: str,
        code: str,
        consistent_read: bool = False,
    ) -> Self:
        """GetItem, or the API's 404 (NotFound with `message` and `code`) when there is none."""
        try:
            return cls.get(hash_key, range_key, consistent_read=consistent_read)
        except cls.DoesNotExist:
            raise NotFound(message, code=code) from None
