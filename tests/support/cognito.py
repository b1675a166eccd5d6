"""moto's Cognito signs every pool's tokens with one bundled key; these helpers serve its public
half as the pool's JWKS, so kefu verifies moto's tokens offline exactly as it verifies Cognito's.

moto ships the key gzipped (``jwks-public.json.gz``) in recent versions; ``load_resource`` reads
either form.
"""

from __future__ import annotations

import jwt
from moto.utilities.utils import load_resource


def moto_jwks() -> dict:
    return load_resource("cognitoidp/resources/jwks-public.json")


def serve_moto_jwks(monkeypatch) -> None:
    """Answer kefu's JWKS fetch with moto's key (no HTTP)."""
    keys = moto_jwks()
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: keys)


def sign_as_pool(claims: dict) -> str:
    """A token signed with moto's pool key: for claims Cognito itself would not issue."""
    private = load_resource("cognitoidp/resources/jwks-private.json")
    if "keys" in private:
        private = private["keys"][0]
    key = jwt.algorithms.RSAAlgorithm.from_jwk(private)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": private.get("kid", "dummy")})
