#!/usr/bin/env bash
# The whole benchmark matrix, one command per run (see docs/benchmarks.md).
# Usage: bench/suite.sh [TAG]   (from the repository root; takes roughly 1-2 hours on a shared machine)
set -u
cd "$(dirname "$0")/.."
TAG="${1:-suite}"
B=(.venv/bin/python -m bench)
Q=(--quiet-wait 120 --retries 2 --max-foreign 0.3 --tag "$TAG")
run() { echo "+ python -m bench $*"; timeout 900 "${B[@]}" "$@" "${Q[@]}" || echo "! exit $?"; }

# the floor: bare Flask + gevent, no auth, no DB
run burst --app bare --n 500 --over 1 --workers 1
run burst --app bare --n 1000 --over 2 --workers 2
run burst --app bare --n 2000 --over 1 --workers 2
run hold --app bare --n 8000 --over 20 --workers 1
run hold --app bare --n 10000 --over 20 --workers 2

# burst: 12 words at 50 ms
for db in postgres sqlite; do
  for w in 1 2; do
    run burst --n 250 --over 1 --workers "$w" --db "$db"
    run burst --n 500 --over 1 --workers "$w" --db "$db"
    run burst --n 1000 --over 2 --workers "$w" --db "$db"
    run burst --n 2000 --over 2 --workers "$w" --db "$db"
  done
done

# hold: 2 s pacing, ramp over 20 s
for n in 2000 5000 8000 10000; do
  run hold --n "$n" --over 20 --workers 2 --db postgres
done
run hold --n 15000 --over 20 --workers 2 --db postgres
run hold --n 5000 --over 20 --workers 1 --db postgres
run hold --n 10000 --over 20 --workers 2 --db sqlite
# holding 10,000 without a 500/s ramp: 4 s pacing, 40 s ramp
run hold --n 10000 --over 40 --delay-ms 4000 --workers 2 --db postgres
# no connection held while pacing: long pacing gives a long window with no stream starting
run hold --n 1000 --over 5 --delay-ms 5000 --workers 2 --db postgres

# is the client the limit? the same bursts from two client processes
run burst --app bare --n 2000 --over 1 --workers 2 --client-procs 2
run burst --n 1000 --over 2 --workers 2 --db postgres --client-procs 2

# crud on PostgreSQL
run crud --workers 1 --db postgres --concurrency 32 --duration 10
run crud --workers 2 --db postgres --concurrency 32 --duration 10

# login burst: 500 live streams, with and without 20 logins/s
run login --live 500 --login-rate 20 --delay-ms 250 --duration 10 --repeat 2
