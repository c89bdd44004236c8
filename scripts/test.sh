#!/usr/bin/env bash
# Tern's one test command (README and .ci/run call exactly this):
#   bash scripts/test.sh [extra cargo test args]
#
# 1. installs what the real-server tests need and is missing (Debian packages, MariaDB and
#    PostgreSQL included — see scripts/databases.sh; moto from PyPI and azurite from npm, into
#    ~/.cache/tern — see scripts/object-stores.sh),
# 2. starts the object stores on 127.0.0.1 (moto = S3, azurite = Azure Blob); the database tests
#    start their own private servers on unix sockets,
# 3. runs every test of the workspace (unit, integration, doc tests) with the real servers
#    required: a test that needs a server fails instead of skipping when it is missing,
# 4. fuzzes the HTTP API with schemathesis against `tern serve` (scripts/fuzz-api.sh: any 5xx
#    fails; skipped when extra arguments narrow the run),
# 5. stops the servers, whatever happened, and prints the total count of tests.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "[test] $*" >&2; }

# --- 1. system packages -------------------------------------------------------------------
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v openssl >/dev/null || missing+=(openssl)
command -v npm >/dev/null || missing+=(npm)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]}"
    apt-get update -qq >&2
    # A cleanup hook can remove downloaded packages on the first try: retry once.
    apt-get install -y -qq "${missing[@]}" >&2 || apt-get install -y -qq "${missing[@]}" >&2
  else
    log "missing ${missing[*]}: install them (e.g. with apt-get) and run again"; exit 1
  fi
fi

# --- 2. real servers ----------------------------------------------------------------------
# MariaDB and PostgreSQL: the Debian packages when missing (no service is started: each test
# starts private servers on unix sockets and stops them); this exports where their tools are.
eval "$(bash scripts/databases.sh)"
trap 'bash scripts/object-stores.sh stop' EXIT
eval "$(bash scripts/object-stores.sh moto azurite)"
export TERN_REQUIRE_REAL_SERVERS=1

# --- 3. every test ------------------------------------------------------------------------
out=$(mktemp)
status=0
cargo test --workspace --all-features --no-fail-fast "$@" 2>&1 | tee "$out" || status=$?

# --- 4. the HTTP API under schema-driven fuzzing (schemathesis from PyPI, bounded) ---------
# Every operation of /openapi.json gets generated valid and invalid requests; any 5xx fails.
# Skipped when arguments narrow the test run.
if [ $# -eq 0 ]; then
  cargo build -q -p tern-cli
  FUZZ_MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-100}" bash scripts/fuzz-api.sh || status=$?
fi

# --- 5. the count -------------------------------------------------------------------------
awk '/^test result:/ { for (i = 1; i <= NF; i++) {
        if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) s += $i } }
     END { printf "\ntotal: %d passed, %d failed, %d skipped\n", p, f, s }' "$out"
rm -f "$out"
exit "$status"
