"""Benchmarks: counts that do not drift (DynamoDB requests per operation) and times measured
with medians and ratios taken in one run. `make bench` prints them."""
