"""Saved runs: the store, the record schema, queries, annotations, comparisons."""
