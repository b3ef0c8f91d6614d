"""Benchmarks behind `livebuy bench`: the product's figures next to the raw database limit."""
