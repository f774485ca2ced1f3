"""Benchmarks: measurements too slow or too machine-dependent for the test suite."""
