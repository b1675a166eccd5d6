"""Roles and what they may do. Later capabilities add their permissions to this table.

owner       the shop's main account: everything, including staff and roles
supervisor  runs the floor: sees and reassigns every conversation, reads staff and the audit
agent       works conversations: unassigned ones and those assigned to them
platform    staff of a mall's operator (not of a seller): manage the mall's platform-wide
            knowledge base and oversee (read, never work) the mall's shops, one shop per
            request (kefu.auth.staff_tokens.acting_on)
"""

from __future__ import annotations

from kefu.errors import Forbidden

ROLES = ("owner", "supervisor", "agent")
PLATFORM_ROLE = "platform"

CONVERSATIONS_READ = "conversations.read"  # unassigned + own
CONVERSATIONS_READ_ALL = "conversations.read_all"
CONVERSATIONS_CLAIM = "conversations.claim"
CONVERSATIONS_ASSIGN = "conversations.assign"  # to anyone
CONVERSATIONS_REPLY = "conversations.reply"
CONVERSATIONS_RESOLVE = "conversations.resolve"
STAFF_READ = "staff.read"
STAFF_MANAGE = "staff.manage"
STAFF_PASSWORD_RESET = "staff.password_reset"  # supervisors: agents' only (kefu.staff)
AUDIT_READ = "audit.read"
CUSTOMERS_CONTACT_READ = "customers.contact.read"  # unmasked personal fields (phone, address…)
CUSTOMERS_READ = "customers.read"  # profiles (masked), search, attribute definitions
CUSTOMERS_WRITE = "customers.write"  # edit a profile
CUSTOMERS_ATTRIBUTES_MANAGE = "customers.attributes.manage"  # define custom attributes
CUSTOMERS_MERGE = "customers.merge"  # merge two profiles (after a preview)
CUSTOMERS_EXPORT = "customers.export"  # everything kefu holds about one customer (PIPL/GDPR)
CUSTOMERS_ERASE = "customers.erase"  # erase a customer on request (PIPL/GDPR)
QUICK_REPLIES_MANAGE = "quick_replies.manage"  # shop-wide quick replies (personal: everyone)
SHOP_EVENTS_WRITE = "shop_events.write"  # the shop's back end, signed with its shop-events key
TICKETS_READ = "tickets.read"  # unassigned, own and watched tickets
TICKETS_READ_ALL = "tickets.read_all"
TICKETS_CREATE = "tickets.create"
TICKETS_WORK = "tickets.work"  # change and comment on unassigned or own tickets
TICKETS_MANAGE = "tickets.manage"  # any ticket, assign to anyone
TICKETS_SLA_MANAGE = "tickets.sla.manage"  # business-hours calendar and SLA policies
ROUTING_READ = "routing.read"  # queues, rules, agents' status and load
ROUTING_MANAGE = "routing.manage"  # queues, routing rules, agents' capacity
AGENT_STATUS_SET = "agents.status.set"  # one's own status and capacity
CONVERSATIONS_TRANSFER = "conversations.transfer"  # one's own conversation (supervisors: any)
KEYWORD_RULES_READ = "bot.keyword_rules.read"  # the bot's keyword auto-reply rules
KEYWORD_RULES_MANAGE = "bot.keyword_rules.manage"  # create, change, delete them
KNOWLEDGE_READ = "knowledge.read"  # the knowledge base's entries, versions, publishes
KNOWLEDGE_MANAGE = "knowledge.manage"  # edit, import, the dictionary, publish
BOT_INSIGHTS = "bot.insights"  # what the bot missed, suggestions from it, entry reports
BOT_SETTINGS_MANAGE = "bot.settings.manage"  # the bot's settings (GET and PUT)
PLATFORM_KNOWLEDGE = "knowledge.platform"  # read and manage the mall's platform-wide entries
WECHAT_SETTINGS_MANAGE = "shop.wechat_settings.manage"  # appid, push mode, secrets (owner)
TIERS_MANAGE = "tiers.manage"  # RFM thresholds, tiers, points and member levels (GET and PUT)
SEGMENTS_READ = "segments.read"  # preview filters, saved segments and their customers
SEGMENTS_MANAGE = "segments.manage"  # save, change, delete segments
TAGS_READ = "tags.read"  # tag groups, tags, auto-tag rules, a customer's tag history
TAGS_MANAGE = "tags.manage"  # create, change, delete groups, tags and auto-tag rules
CUSTOMERS_TAG = "customers.tag"  # put tags on one customer and take them off
JOBS_SUBMIT = "jobs.submit"  # bulk operations over a selection or a segment (kefu.jobs)
JOBS_READ = "jobs.read"  # the shop's background jobs and their progress
JOBS_APPROVE = "jobs.approve"  # approve or reject a job over the shop's approval threshold

_AGENT = {
    CONVERSATIONS_READ,
    CONVERSATIONS_CLAIM,
    CONVERSATIONS_REPLY,
    CONVERSATIONS_RESOLVE,
}
_AGENT |= {TICKETS_READ, TICKETS_CREATE, TICKETS_WORK}
_AGENT |= {AGENT_STATUS_SET, CONVERSATIONS_TRANSFER}
_AGENT |= {KEYWORD_RULES_READ}
_AGENT |= {KNOWLEDGE_READ}
_AGENT |= {SEGMENTS_READ}
_AGENT |= {CUSTOMERS_READ, CUSTOMERS_WRITE}
_AGENT |= {TAGS_READ, CUSTOMERS_TAG}
_SUPERVISOR = _AGENT | {CONVERSATIONS_READ_ALL, CONVERSATIONS_ASSIGN, STAFF_READ, AUDIT_READ}
_SUPERVISOR |= {CUSTOMERS_CONTACT_READ, QUICK_REPLIES_MANAGE}
_SUPERVISOR |= {TICKETS_READ_ALL, TICKETS_MANAGE, TICKETS_SLA_MANAGE}
_SUPERVISOR |= {ROUTING_READ, ROUTING_MANAGE}
_SUPERVISOR |= {KEYWORD_RULES_MANAGE}
_SUPERVISOR |= {KNOWLEDGE_MANAGE}
_SUPERVISOR |= {BOT_INSIGHTS}
_SUPERVISOR |= {BOT_SETTINGS_MANAGE}
_SUPERVISOR |= {STAFF_PASSWORD_RESET}
_SUPERVISOR |= {TIERS_MANAGE}
_SUPERVISOR |= {SEGMENTS_MANAGE}
_SUPERVISOR |= {CUSTOMERS_ATTRIBUTES_MANAGE, CUSTOMERS_MERGE}
_SUPERVISOR |= {TAGS_MANAGE, JOBS_SUBMIT, JOBS_READ}
_OWNER = _SUPERVISOR | {STAFF_MANAGE}
_OWNER |= {CUSTOMERS_EXPORT, CUSTOMERS_ERASE}
_OWNER |= {WECHAT_SETTINGS_MANAGE}
_OWNER |= {JOBS_APPROVE}
# Oversight of a seller's floor, without working it: no replies, claims, assignments, agent
# status (so never assigned a conversation), unmasked contacts, staff or settings changes.
_PLATFORM = {CONVERSATIONS_READ, CONVERSATIONS_READ_ALL, TICKETS_READ, TICKETS_READ_ALL}
_PLATFORM |= {ROUTING_READ, KEYWORD_RULES_READ, KNOWLEDGE_READ, PLATFORM_KNOWLEDGE}
_PLATFORM |= {CUSTOMERS_READ}
_PLATFORM |= {TAGS_READ, JOBS_READ}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "agent": frozenset(_AGENT),
    "supervisor": frozenset(_SUPERVISOR),
    "owner": frozenset(_OWNER),
    PLATFORM_ROLE: frozenset(_PLATFORM),
    # Not a staff role: the shop's own back end, authenticated by its signature.
    "shop_server": frozenset({SHOP_EVENTS_WRITE}),
    # Not a staff role: the bot itself, recording an off-hours message on a ticket (kefu.bot).
    "bot": frozenset(
        {CONVERSATIONS_READ, CONVERSATIONS_READ_ALL, TICKETS_READ, TICKETS_READ_ALL}
        | {TICKETS_CREATE, TICKETS_WORK, TICKETS_MANAGE}
    ),
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
