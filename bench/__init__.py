"""Benchmarks (not tests): `python -m bench` runs every `bench/*_bench.py`, see bench/README.md."""
