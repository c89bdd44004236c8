#!/usr/bin/env bash
# Tern's real object-storage servers for tests: installs (once) and starts them on 127.0.0.1.
#
#   eval "$(bash scripts/object-stores.sh)"              # moto (S3) + azurite (Azure Blob)
#   eval "$(bash scripts/object-stores.sh moto azurite s3s-fs)"
#   bash scripts/object-stores.sh stop                   # stop every server this script started
#
# Adapted from the verified runbook in ../shared/runbooks (start-object-stores.sh).
#
# stdout carries ONLY `export ...` lines (so it can be eval'd); progress goes to stderr.
# Everything is installed under $OBJECT_STORE_EMU_DIR (default: ${TMPDIR:-/tmp}/object-store-emulators).
# All servers listen on 127.0.0.1 only. There is no usable GCS emulator (see the report).
#
# Pinned versions (checked with Rust 1.95 / Node 20 / Python 3.11):
#   moto[server] 5.2.5 (PyPI)      S3: everything object_store uses, incl. conditional put
#   azurite 3.35.0 (npm)           Azure Blob: everything (3.36+ needs Node >= 22)
#   s3s-fs 0.14.1 (cargo install)  S3 with signature checking; conditional put not atomic
#                                  (0.17 needs rustc 1.96); ~2 min to compile on 2 cores
set -euo pipefail

DIR="${OBJECT_STORE_EMU_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tern/object-stores}"
BUCKET="${OBJECT_STORE_TEST_BUCKET:-tern-test}"
MOTO_PORT="${MOTO_PORT:-5000}"
AZURITE_PORT="${AZURITE_PORT:-10000}"
S3SFS_PORT="${S3SFS_PORT:-8014}"
S3SFS_KEY=s3sfs-access
S3SFS_SECRET=s3sfs-secret
AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
READY_TIMEOUT="${READY_TIMEOUT:-60}"

log() { echo "[object-stores] $*" >&2; }
mkdir -p "$DIR/pids" "$DIR/logs"

stop_all() {
  local f pid
  for f in "$DIR"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
      log "stopped $(basename "$f" .pid) (pid $pid)"
    fi
    rm -f "$f"
  done
}

if [ "${1:-}" = "stop" ]; then stop_all; exit 0; fi

SERVERS=("$@")
[ ${#SERVERS[@]} -eq 0 ] && SERVERS=(moto azurite)

running() { [ -f "$DIR/pids/$1.pid" ] && kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }

# wait_http NAME URL: any HTTP answer (even 403) means the server is accepting requests
wait_http() {
  local name=$1 url=$2 start=$SECONDS
  until curl -s -m 2 -o /dev/null "$url"; do
    if ! running "$name"; then log "$name died; log:"; tail -20 "$DIR/logs/$name.log" >&2; exit 1; fi
    if (( SECONDS - start > READY_TIMEOUT )); then log "$name not ready after ${READY_TIMEOUT}s"; exit 1; fi
    sleep 0.2
  done
  log "$name ready on $url after $((SECONDS - start))s"
}

# start NAME CMD...: background the server, record its PID
start() {
  local name=$1; shift
  nohup "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DIR/pids/$name.pid"
}

install_moto() {
  if [ ! -x "$DIR/venv-moto/bin/moto_server" ]; then
    log "installing moto[server] (about 35 s)"
    python3 -m venv "$DIR/venv-moto"
    "$DIR/venv-moto/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.5' >&2
  fi
}
install_azurite() {
  if [ ! -x "$DIR/npm/node_modules/.bin/azurite-blob" ]; then
    log "installing azurite (about 20 s)"
    mkdir -p "$DIR/npm"
    npm install --prefix "$DIR/npm" --no-audit --no-fund --loglevel=error azurite@3.35.0 >&2
  fi
}
install_s3sfs() {
  if [ ! -x "$DIR/cargo/bin/s3s-fs" ]; then
    log "installing s3s-fs with cargo (about 2 min on 2 cores)"
    cargo install --quiet --locked --root "$DIR/cargo" s3s-fs@0.14.1 --features binary >&2
  fi
}

ENV_LINES=()
for s in "${SERVERS[@]}"; do
  case "$s" in
    moto)
      install_moto
      if ! running moto; then
        start moto "$DIR/venv-moto/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
      fi
      wait_http moto "http://127.0.0.1:$MOTO_PORT/"
      # moto needs no signature check; create the bucket with a plain PUT
      curl -sf -o /dev/null -X PUT "http://127.0.0.1:$MOTO_PORT/$BUCKET"
      ENV_LINES+=(
        "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1"
        "export AWS_ENDPOINT=http://127.0.0.1:$MOTO_PORT AWS_ALLOW_HTTP=true"
        "export AWS_BUCKET=$BUCKET AWS_CONDITIONAL_PUT=etag AWS_COPY_IF_NOT_EXISTS=multipart"
        "export TEST_S3_URL=s3://$BUCKET")
      ;;
    azurite)
      install_azurite
      if ! running azurite; then
        start azurite "$DIR/npm/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
          --blobPort "$AZURITE_PORT" --inMemoryPersistence --skipApiVersionCheck \
          --disableTelemetry --silent
      fi
      wait_http azurite "http://127.0.0.1:$AZURITE_PORT/devstoreaccount1?comp=list"
      # Azurite demands SharedKey auth even to create a container: sign it with the stdlib
      python3 - "$BUCKET" "http://127.0.0.1:$AZURITE_PORT" "$AZURITE_KEY" <<'PY'
import base64, hashlib, hmac, sys, urllib.error, urllib.request
from email.utils import formatdate
name, base, key = sys.argv[1], sys.argv[2], sys.argv[3]
acct, ver, date = "devstoreaccount1", "2021-08-06", formatdate(usegmt=True)
sts = "\n".join(["PUT", "", "", "", "", "text/plain"] + [""] * 6 +
                [f"x-ms-date:{date}", f"x-ms-version:{ver}", f"/{acct}/{acct}/{name}\nrestype:container"])
sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()).decode()
req = urllib.request.Request(f"{base}/{acct}/{name}?restype=container", method="PUT", data=b"",
      headers={"Content-Type": "text/plain", "x-ms-date": date, "x-ms-version": ver,
               "Authorization": f"SharedKey {acct}:{sig}"})
try:
    urllib.request.urlopen(req)
except urllib.error.HTTPError as e:
    if e.code != 409:  # 409 = container already exists
        sys.exit(f"create container failed: {e.code} {e.read()[:300]!r}")
PY
      ENV_LINES+=(
        "export AZURE_STORAGE_USE_EMULATOR=true AZURITE_BLOB_STORAGE_URL=http://127.0.0.1:$AZURITE_PORT"
        "export AZURE_STORAGE_ACCOUNT_NAME=devstoreaccount1 AZURE_STORAGE_ACCOUNT_KEY='$AZURITE_KEY'"
        "export AZURE_CONTAINER_NAME=$BUCKET TEST_AZURE_URL=az://$BUCKET")
      ;;
    s3s-fs)
      install_s3sfs
      mkdir -p "$DIR/s3s-fs-data/$BUCKET"      # a bucket is a top-level directory
      if ! running s3s-fs; then
        start s3s-fs "$DIR/cargo/bin/s3s-fs" --host 127.0.0.1 --port "$S3SFS_PORT" \
          --access-key "$S3SFS_KEY" --secret-key "$S3SFS_SECRET" "$DIR/s3s-fs-data"
      fi
      wait_http s3s-fs "http://127.0.0.1:$S3SFS_PORT/"
      # Not AWS_* names, so that moto's settings stay the default S3 target
      ENV_LINES+=(
        "export S3SFS_ENDPOINT=http://127.0.0.1:$S3SFS_PORT S3SFS_ACCESS_KEY_ID=$S3SFS_KEY"
        "export S3SFS_SECRET_ACCESS_KEY=$S3SFS_SECRET S3SFS_BUCKET=$BUCKET TEST_S3SFS_URL=s3://$BUCKET")
      ;;
    *) log "unknown server '$s' (known: moto azurite s3s-fs)"; exit 2 ;;
  esac
done

echo "export OBJECT_STORE_EMU_DIR=$DIR"
printf '%s\n' "${ENV_LINES[@]}"
log "started: ${SERVERS[*]}; stop with: bash $0 stop"
