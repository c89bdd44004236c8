#!/usr/bin/env bash
# Schema-driven fuzz of Tern's HTTP API with schemathesis (PyPI), bounded in time.
#
#   bash scripts/fuzz-api.sh        # after `cargo build` (CI calls it once the binary is built)
#
# What it does:
#   1. installs schemathesis (when missing) into a cached venv,
#   2. writes a throw-away config (temp dir, free port on 127.0.0.1, one admin token, one
#      MariaDB service that points at no database) and creates the primary repository,
#   3. starts `tern serve`, waits for GET /health,
#   4. lets schemathesis read GET /openapi.json and send generated requests (valid and invalid)
#      to every operation with the admin token,
#   5. fails when any response is a 5xx (the only check: a correct API answers fuzzed input
#      with 2xx/4xx, so nothing else can fail it falsely), when a request errors or times out,
#      when the server exits or panics, or when the token was refused everywhere (then the
#      fuzz would have tested only the 401 path and proved nothing),
#   6. stops the server and removes the temp dir, whatever happened.
#
# Environment (all optional):
#   TERN_BIN               the server binary                    (default: $ROOT/target/debug/tern)
#   FUZZ_MAX_EXAMPLES      generated test cases per operation and phase           (default: 40)
#   FUZZ_TIMEOUT           seconds for the whole schemathesis run, then it fails  (default: 600)
#   FUZZ_SEED              seed, so that a failure reproduces with the same value (default: 42)
#   FUZZ_WORKERS           concurrent schemathesis workers                        (default: 1)
#   FUZZ_PHASES            schemathesis phases               (default: examples,coverage,fuzzing)
#   FUZZ_REQUEST_TIMEOUT   seconds for one request before it counts as an error   (default: 30)
#   FUZZ_EXTRA_ARGS        more `schemathesis run` options, split on spaces, e.g.
#                          "--exclude-path-regex ^/v1/restores"
#   FUZZ_OUT               where the JSON report and the server log are kept
#                                                                 (default: $ROOT/target/fuzz-api)
#   TERN_TOOLS_DIR         cache of tools                       (default: ~/.cache/tern-tools)
#   SCHEMATHESIS_VERSION   the schemathesis release to install                (default: 4.32.5)
#
# Exit status: 0 when nothing failed; 1 on a failure; 124 when FUZZ_TIMEOUT ran out.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TERN_BIN="${TERN_BIN:-$ROOT/target/debug/tern}"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-40}"
TIMEOUT="${FUZZ_TIMEOUT:-600}"
SEED="${FUZZ_SEED:-42}"
# One worker by default: the machines have 2 cores, and the server needs one of them.
WORKERS="${FUZZ_WORKERS:-1}"
# No stateful phase: it needs OpenAPI links (utoipa emits none) and would mostly repeat the
# fuzzing phase for a long time.
PHASES="${FUZZ_PHASES:-examples,coverage,fuzzing}"
REQUEST_TIMEOUT="${FUZZ_REQUEST_TIMEOUT:-30}"
OUT="${FUZZ_OUT:-$ROOT/target/fuzz-api}"
TOOLS="${TERN_TOOLS_DIR:-$HOME/.cache/tern-tools}"
# Pinned: a new 4.x release may add probes (the coverage phase already sends unknown HTTP
# methods) and so change what CI sees without a change here. Checked with 4.32.5.
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
VENV="$TOOLS/schemathesis-venv"
ST="$VENV/bin/schemathesis"

log() { echo "[fuzz-api] $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$TERN_BIN" ] || die "no server binary at $TERN_BIN: build it first (cargo build) or set TERN_BIN"

# --- 1. tools -----------------------------------------------------------------------------
# apt-get for the few Debian packages this needs, when run as root (CI and the dev machines).
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $*"
    apt-get update -qq >&2
    # A cleanup hook can remove downloaded packages on the first try: retry once.
    apt-get install -y -qq "$@" >&2 || apt-get install -y -qq "$@" >&2
  else
    die "missing $*: install them (e.g. with apt-get) and run again"
  fi
}
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v timeout >/dev/null || missing+=(coreutils)
command -v python3 >/dev/null || missing+=(python3)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

installed_version() { "$ST" --version 2>/dev/null | sed -n 's/.*version \([0-9][^ ]*\).*/\1/p'; }
if [ "$(installed_version)" != "$SCHEMATHESIS_VERSION" ]; then
  # Debian's python3 has no `venv`/`ensurepip` without python3-venv.
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  # A venv left half-made by an interrupted run has no usable pip: make it anew.
  "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || { rm -rf "$VENV"; mkdir -p "$TOOLS"; python3 -m venv "$VENV"; }
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  pip_install() { "$VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2; }
  pip_install || pip_install   # one retry for a network hiccup
  [ "$(installed_version)" = "$SCHEMATHESIS_VERSION" ] || die "schemathesis $SCHEMATHESIS_VERSION did not install"
fi

# --- 2. a throw-away configuration ------------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/tern-fuzz-api.XXXXXX")"
mkdir -p "$OUT"
LOG="$OUT/server.log"
REPORT="$OUT/report.json"
rm -f "$LOG" "$REPORT"
SERVER_PID=""
FUZZ_PID=""
# shellcheck disable=SC2317  # show_log and cleanup run from the EXIT trap
show_log() {
  if [ -s "$LOG" ]; then
    log "last 200 lines of the server log ($LOG):"
    tail -n 200 "$LOG" >&2
  fi
}
# shellcheck disable=SC2317
cleanup() {
  local status=$?
  if [ -n "$FUZZ_PID" ] && kill -0 "$FUZZ_PID" 2>/dev/null; then
    kill "$FUZZ_PID" 2>/dev/null || true
    wait "$FUZZ_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    # Give it 5 s to shut down cleanly, then force it: CI must not hang on a stuck server.
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  [ "$status" = 0 ] || show_log
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The repository is unencrypted, so the slow key derivation is not needed anywhere in this run.
export TERN_INSECURE_FAST_KDF=1

# A free port: bind port 0 and let the kernel choose (a race with another process is possible
# but unlikely on a test machine; the health wait below would then fail clearly).
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

# A fresh random token per run; the config holds only its hash.
TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
HASH="$(printf '%s' "$TOKEN" | "$TERN_BIN" config hash-token | tr -d '[:space:]')"
[[ "$HASH" =~ ^[0-9a-f]{64}$ ]] || die "\`tern config hash-token\` printed '$HASH', not 64 hex digits"

"$TERN_BIN" init "$TMP/eu" --no-encryption >"$TMP/init.log" 2>&1 \
  || { cat "$TMP/init.log" >&2; die "tern init $TMP/eu --no-encryption failed"; }
mkdir -p "$TMP/restores"
# The service's connection file names a socket that does not exist: the fuzz must not reach a
# real database, even one that happens to run on this machine; backup calls then fail as they
# should (with a 4xx, or a 5xx that this fuzz reports).
printf '[client]\nsocket = %s/no-such-mariadb.sock\n' "$TMP" >"$TMP/none.cnf"
cat >"$TMP/tern.toml" <<EOF
listen = "127.0.0.1:$PORT"
primary_region = "eu"
restore_dir = "$TMP/restores"

[regions]
eu = "$TMP/eu"
us = "$TMP/us"

[[tokens]]
name = "fuzz"
role = "admin"
blake3 = "$HASH"

[[services]]
name = "shop"
engine = "mariadb"
connect = "$TMP/none.cnf"
EOF

# --- 3. the server ----------------------------------------------------------------------------
log "starting $TERN_BIN serve on $BASE (log: $LOG)"
"$TERN_BIN" serve --config "$TMP/tern.toml" >"$LOG" 2>&1 </dev/null &
SERVER_PID=$!
up=0
for _ in $(seq 60); do   # 60 x 0.5 s = 30 s
  kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited before it answered /health"
  if curl -fsS -o /dev/null --max-time 2 "$BASE/health" 2>/dev/null; then up=1; break; fi
  sleep 0.5
done
[ "$up" = 1 ] || die "no 200 from $BASE/health within 30 s"
curl -fsS -o /dev/null --max-time 5 "$BASE/openapi.json" || die "no 200 from $BASE/openapi.json"

# --- 4. the fuzz ------------------------------------------------------------------------------
# Options, as `schemathesis run --help` (4.x) names them:
#   --checks not_a_server_error   only "no 5xx": the conformance checks (status codes, schemas,
#                                 negative_data_rejection, ...) would fail on legitimate answers
#   --mode all (default)          valid and invalid inputs
#   --generation-database none    no example database written to the working directory
#   --no-shrink is NOT given      a failure is shrunk to a small reproducible request
# The token goes in the header; schemathesis hides it ([Filtered]) in its output and reports.
# FUZZ_EXTRA_ARGS is split on spaces (without glob expansion, so a regex stays as written).
read -r -a extra <<<"${FUZZ_EXTRA_ARGS:-}"
cmd=("$ST" run "$BASE/openapi.json"
  --checks not_a_server_error
  --header "Authorization: Bearer $TOKEN"
  --max-examples "$MAX_EXAMPLES"
  --seed "$SEED"
  --workers "$WORKERS"
  --phases "$PHASES"
  --request-timeout "$REQUEST_TIMEOUT"
  --generation-database none
  --no-color
  --report json --report-json-path "$REPORT"
  "${extra[@]}")
log "schemathesis $SCHEMATHESIS_VERSION: ${cmd[*]/Bearer $TOKEN/Bearer ***} (timeout ${TIMEOUT}s)"
status=0
# Run from the temp dir so that nothing schemathesis or hypothesis may write lands in the repo.
cd "$TMP"
# In the background + `wait`: a TERM/INT to this script then runs the traps at once (bash defers
# them while a foreground command runs), and cleanup stops schemathesis (timeout passes the
# signal on to it) before the server.
timeout --kill-after=10 "$TIMEOUT" "${cmd[@]}" &
FUZZ_PID=$!
wait "$FUZZ_PID" || status=$?
FUZZ_PID=""
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  log "schemathesis did not finish within ${TIMEOUT}s: lower FUZZ_MAX_EXAMPLES or raise FUZZ_TIMEOUT"
  status=124
fi

# --- 5. what else makes it fail, and the one-line summary ---------------------------------------
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  log "the server exited during the fuzz"
  [ "$status" != 0 ] || status=1
fi
if grep -q 'panicked at' "$LOG" 2>/dev/null; then
  log "the server panicked (see its log below): a panic is a bug even when no 5xx was answered"
  [ "$status" != 0 ] || status=1
fi
if [ -s "$REPORT" ]; then
  # missing_auth: operations that answered only 401/403, i.e. the token did not work there.
  "$VENV/bin/python" - "$REPORT" "$status" <<'PY' || { [ "$status" != 0 ] || status=1; }
import json, sys
r = json.load(open(sys.argv[1]))
ops, tc = r["operations"], r["test_cases"]
failed = tc["with_failures"] + tc["errored"]
auth = r.get("warnings", {}).get("missing_auth", [])
ok = int(sys.argv[2]) == 0 and r["exit_code"] == 0 and not auth
print(f"fuzz-api: {'PASS' if ok else 'FAIL'}: {ops['tested']}/{ops['selected']} operations tested, "
      f"{tc['generated']} test cases, {failed} failing ({tc['unique_failures']} unique), "
      f"{len(r['errors'])} errors, {r['running_time']:.0f} s "
      f"(schemathesis {r['schemathesis_version']}, seed {r['seed']})")
if auth:
    print(f"fuzz-api: the token was refused (only 401/403) by: {', '.join(auth)}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
else
  echo "fuzz-api: FAIL: schemathesis wrote no report (exit status $status)"
  [ "$status" != 0 ] || status=1
fi
exit "$status"
