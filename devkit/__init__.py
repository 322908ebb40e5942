"""Helpers shared by the test suite and the benchmarks (neither imports the other)."""
