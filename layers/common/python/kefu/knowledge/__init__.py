"""The knowledge base (知识库): entries with versions, import/export, the shop dictionary, and
publishing the search index the bot answers from. See docs/knowledge-base.md."""
