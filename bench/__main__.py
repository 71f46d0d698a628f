"""``python -m bench burst|hold|crud|login|expire …``: see bench/cli.py and docs/benchmarks.md."""

import sys

from bench.cli import main

sys.exit(main())
