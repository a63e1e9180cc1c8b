"""Benchmark of one audit day of a large centre (issue #3); see bench/RESULTS.md."""
