"""Conversations: one open conversation per customer per shop, across channels; its messages;
and what staff do with it (list, read, claim, assign, reply, resolve)."""
