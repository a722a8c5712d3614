"""The Cycleswap platform on one host: real Docker containers, a job-state store, storage.

Nothing in this package imports textual: the CLI and scripts stay fast to start.
"""
