"""The bot (EventBridge `message.received` of shops whose bot is on -> SQS): answer from keyword
rules, the customer's orders and the knowledge base, or hand the conversation to people; off
hours, offer to leave a message and record it on a ticket. Each record is handled on its own and
is idempotent (a redelivered message sends nothing twice): docs/bot.md."""

from kefu.bot.turn import handle
from kefu.consumers import event_consumer

logger, handler = event_consumer("autoreply", lambda event, record: handle(event))
