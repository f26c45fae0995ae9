"""Benchmarks for parity. `make bench` runs `bench/run.py`; figures go to BENCHMARKS.md."""
