"""Basics: what every layer may use and nothing of synthral's own below it — errors and exit
codes, settings (env var names, paths), secret redaction, logging, TLS trust, the version, private
files (owner-only writes and the ``check_private`` StrictModes check)."""
