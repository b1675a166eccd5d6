"""Tagging (docs/tags.md): the shop's auto-tag rules applied to its events — a customer's message,
a bot intent, a paid order, a refund, a campaign clicked, a tier change, an attribute's value —
from EventBridge through the tagging queue (with a DLQ). Each record on its own; a repeat
changes nothing (a tag already there is not written again)."""

from kefu.consumers import event_consumer
from kefu.tags.tagger import handle

logger, handler = event_consumer("tagging", lambda event, record: handle(event))
