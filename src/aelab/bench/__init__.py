"""Benchmarks and reference studies, one module each."""
