"""Benchmark decontamination: the n-gram index of the test sets (a global step), and the stage that
drops documents sharing an n-gram with them."""
