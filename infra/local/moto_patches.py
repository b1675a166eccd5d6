"""Fidelity fixes for the moto server the runner starts in this process.

moto is a faithful fake in most places; where the runner depends on a difference, it is fixed
here (and only for an in-process server: a --moto-url server elsewhere is left as it is):

* Cognito tokens carry iss=https://cognito-idp.<region>.amazonaws.com/<pool>, a host that does
  not serve the local JWKS. Tokens of the pools the runner creates carry the local ProviderURL
  instead, so functions verify them exactly as in AWS: iss == ProviderURL, keys at
  {ProviderURL}/.well-known/jwks.json.
* EventBridge events delivered to targets lack "account" (moto's default input template drops
  it); real EventBridge delivers the whole event.
* DynamoDB requests run concurrently in the server's threads and moto's TransactWriteItems is
  not atomic under threads; DynamoDB guarantees every request is atomic and isolated, so
  requests are serialised.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCAL_ISSUERS: dict[str, str] = {}
_DYNAMODB_LOCK = threading.RLock()
_MARK = "_kefu_local_patch"


def register_local_issuer(pool_id: str, issuer: str) -> None:
    """Sign tokens of `pool_id` with iss=`issuer` (the pool's local ProviderURL)."""
    _LOCAL_ISSUERS[pool_id] = issuer


def clear_local_issuers() -> None:
    _LOCAL_ISSUERS.clear()


def install() -> None:
    """Apply every patch (idempotent)."""
    _patch_cognito_issuer()
    _patch_event_account()
    _patch_dynamodb_atomicity()


def uninstall() -> None:
    """Undo the patches that change behaviour for other moto users in this process."""
    clear_local_issuers()
    from moto.dynamodb.responses import DynamoHandler

    current = DynamoHandler.call_action
    if getattr(current, _MARK, False):
        DynamoHandler.call_action = current.__wrapped__  # type: ignore[attr-defined]


def _patch_cognito_issuer() -> None:
    from moto.cognitoidp.models import CognitoIdpUserPool

    original = CognitoIdpUserPool.create_jwt
    if getattr(original, _MARK, False):
        return

    def create_jwt(
        self: Any,
        client_id: str,
        username: str,
        token_use: str,
        expires_in: int = 60 * 60,
        extra_data: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        issuer = _LOCAL_ISSUERS.get(self.id)
        if issuer:
            extra_data = {**(extra_data or {}), "iss": issuer}  # applied after moto's iss
        return original(self, client_id, username, token_use, expires_in, extra_data)

    setattr(create_jwt, _MARK, True)
    CognitoIdpUserPool.create_jwt = create_jwt


def _patch_event_account() -> None:
    from moto.events.utils import EventTemplateParser

    template = EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    if '"account"' not in template:
        EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template.replace(
            '"source": "<source>", ', '"source": "<source>", "account": "<account>", '
        )


def _patch_dynamodb_atomicity() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, _MARK, False):
        return

    def call_action(self: Any) -> Any:
        with _DYNAMODB_LOCK:
            return original(self)

    call_action.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(call_action, _MARK, True)
    DynamoHandler.call_action = call_action
