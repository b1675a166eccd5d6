"""Finding the knowledge-base entry a customer's question is about, and how sure we are.

text.py turns text into terms (Chinese and English), index.py ranks entries, decision.py turns
the ranking into the bot's outcome: answer, suggest, or hand off. See docs/bot-retrieval.md.
"""

from kefu.retrieval.decision import Decision, Thresholds, decide, merge_hits
from kefu.retrieval.index import Document, Hit, KnowledgeIndex
from kefu.retrieval.text import terms

__all__ = [
    "Decision",
    "Document",
    "Hit",
    "KnowledgeIndex",
    "Thresholds",
    "decide",
    "merge_hits",
    "terms",
]
