"""Benchmarks, run by hand (``python -m bench.<name>``); pytest never collects them."""
