"""Text in, verdicts out: crisis rules and redaction (no HTTP, no database)."""
