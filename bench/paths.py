"""Where things are: the repository, its virtualenv, the results, PostgreSQL's admin DSN."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
