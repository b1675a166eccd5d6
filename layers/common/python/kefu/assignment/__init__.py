"""Assignment: agents' status, capacity and load, and giving waiting conversations to agents
with room (docs/routing.md). `core` holds the transactions that keep the invariants."""
