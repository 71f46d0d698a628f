"""``python -m bench burst|hold|crud|login …``: see bench/runner.py and docs/benchmarks.md."""

import sys

from bench.runner import main

sys.exit(main())
