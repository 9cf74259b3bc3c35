"""Benchmarks B1–B4 of EXPERIMENTS.md: side-by-side timing ratios, printed and saved as JSON."""
