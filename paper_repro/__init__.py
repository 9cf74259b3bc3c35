"""Reproduction of the paper's experiments and the ``modgate`` command line."""
