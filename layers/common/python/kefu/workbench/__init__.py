"""The agent's workbench (issue 3 §4): views with counts, one call for a conversation with its
customer's context, internal notes, quick replies, pending/snooze, history search, typing.

Modules are imported by the handler one by one (cold start): `views`, `context`, `notes`,
`quick_replies`, `states`, `search`, `typing_relay`; `common` holds what they share.
"""
