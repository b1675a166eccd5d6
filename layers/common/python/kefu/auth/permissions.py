"""Roles and what they may do. Later capabilities add their permissions to this table.

owner       the shop's main account: everything, including staff and roles
supervisor  runs the floor: sees and reassigns every conversation, reads staff and the audit
agent       works conversations: unassigned ones and those assigned to them
"""

from __future__ import annotations

from kefu.errors import Forbidden

ROLES = ("owner", "supervisor", "agent")

CONVERSATIONS_READ = "conversations.read"  # unassigned + own
CONVERSATIONS_READ_ALL = "conversations.read_all"
CONVERSATIONS_CLAIM = "conversations.claim"
CONVERSATIONS_ASSIGN = "conversations.assign"  # to anyone
CONVERSATIONS_REPLY = "conversations.reply"
CONVERSATIONS_RESOLVE = "conversations.resolve"
STAFF_READ = "staff.read"
STAFF_MANAGE = "staff.manage"
AUDIT_READ = "audit.read"

_AGENT = {
    CONVERSATIONS_READ,
    CONVERSATIONS_CLAIM,
    CONVERSATIONS_REPLY,
    CONVERSATIONS_RESOLVE,
}
_SUPERVISOR = _AGENT | {CONVERSATIONS_READ_ALL, CONVERSATIONS_ASSIGN, STAFF_READ, AUDIT_READ}
_OWNER = _SUPERVISOR | {STAFF_MANAGE}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset(_AGENT),
    "supervisor": frozenset(_SUPERVISOR),
    "owner": frozenset(_OWNER),
}


def has_permission(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def require(actor: object, permission: str) -> None:
    role = getattr(actor, "role", None)
    if role is None or not has_permission(role, permission):
        raise Forbidden(
            f"role {role or 'customer'!r} lacks permission {permission!r}",
            code="permission_denied",
        )
