"""`cycle tui`: a Textual app over the Platform API (jobs, logs, artifacts).

Only this package imports textual; the CLI imports it lazily inside `cycle tui`.
"""
