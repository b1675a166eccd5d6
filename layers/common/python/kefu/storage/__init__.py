"""DynamoDB models (pynamodb). The key design and access patterns are in docs/data-model.md.

Every item carries its shop in its partition key, so no query for one shop can reach another's.
Every access path is GetItem or Query on a key or index: nothing here scans.
"""
