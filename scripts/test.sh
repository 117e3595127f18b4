#!/usr/bin/env bash
# The whole suite on SQLite, then on PostgreSQL. With CI=true PostgreSQL, Redis, Mosquitto and
# Chromium are required: a missing one fails the run instead of skipping tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export VEIN2VEIN_DATA_DIR=${VEIN2VEIN_DATA_DIR:-$PWD/var/test}
mkdir -p "$VEIN2VEIN_DATA_DIR"
WORKERS=${TEST_WORKERS:-2}

pg_reachable() {
  $BIN/python - "$1" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://"), connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

echo "== lint (ruff check, ruff format --check)"
$BIN/ruff check src tests benchmarks
$BIN/ruff format --check src tests benchmarks
echo "== import contract (.importlinter: layers of DESIGN.md, other apps' models)"
$BIN/lint-imports --no-cache
echo "== types (mypy strict on standards/ and every services package)"
$BIN/mypy $(scripts/mypy-targets.sh)
echo "== migrations are up to date"
$BIN/vein2vein makemigrations --check --dry-run >/dev/null

echo "== tests on SQLite"
env -u DATABASE_URL $BIN/pytest -n "$WORKERS" --dist loadgroup "$@"

if [ -n "${DATABASE_URL:-}" ] && [[ "$DATABASE_URL" == postgres* ]]; then
  PG_URL=$DATABASE_URL
fi
if pg_reachable "$PG_URL"; then
  echo "== tests on PostgreSQL ($PG_URL)"
  DATABASE_URL=$PG_URL $BIN/pytest -n "$WORKERS" --dist loadgroup "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "CI=true and PostgreSQL is not reachable at $PG_URL: failing, not skipping." >&2
  exit 1
else
  echo "== PostgreSQL not reachable at $PG_URL: skipped the PostgreSQL run (CI requires it)."
fi
