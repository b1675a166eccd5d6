"""The bot: automatic answers from keyword rules and the knowledge base, and hand-off to agents."""
