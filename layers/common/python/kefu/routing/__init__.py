"""Routing: shop-defined queues and ordered rules that pick a conversation's queue and
priority (docs/routing.md). `rules` compiles and evaluates; `admin` edits queues and rules;
`router` reacts to the events that need a conversation routed or a free slot filled."""
