"""MegaMath-Synth: synthetic data from web pages and code, verified by running it in a sandbox."""
