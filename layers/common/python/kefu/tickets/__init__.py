"""Tickets with SLAs: created from a conversation or the API, worked through
new -> open -> pending -> resolved -> closed (reopen: resolved/closed -> open), with a full
history, comments (internal, or public to the customer), SLA clocks over business-hours
calendars, a scheduled breach sweep and a resolution notice to the customer. docs/tickets.md.

This package's root stays light (storage only): other capabilities call `open_tickets`.
"""

from __future__ import annotations

from kefu.storage.tickets import ACTIVE_STATUSES, Ticket

_PAGE = 50  # one Query page; the filter keeps the active ones


def open_tickets(shop_id: str, customer_id: str, limit: int = 5) -> list[dict]:
    """A customer's active (new, open, pending) tickets, most recently changed first: one Query
    on the by_customer index, filtered. Only the latest 50 changes are looked at."""
    results = Ticket.by_customer.query(
        Ticket.customer_key(shop_id, customer_id),
        filter_condition=Ticket.status.is_in(*ACTIVE_STATUSES),
        scan_index_forward=False,
        page_size=_PAGE,
    )
    page = next(results.page_iter, {}).get("Items", [])  # exactly one Query
    found = []
    for raw in page[:limit]:
        t = Ticket.from_raw_data(raw)
        found.append(
            {
                "ticket_id": t.ticket_id,
                "short_id": t.short_id,
                "subject": t.subject,
                "type": t.type,
                "priority": t.priority,
                "status": t.status,
                "assignee": t.assignee,
                "updated_at": t.updated_at,
                "next_due_at": t.next_due_at,
            }
        )
    return found
