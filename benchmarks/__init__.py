"""Benchmarks B1–B5: side-by-side timing ratios (and memory, cold start), printed and saved as JSON."""
