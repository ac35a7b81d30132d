"""Benchmarks: the suite runner, leaderboards, plots, and throughput figures."""
