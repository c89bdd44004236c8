#!/usr/bin/env bash
# Tern's real database engines for tests: installs (when missing) the Debian packages that the
# MariaDB and PostgreSQL tests need, and tells the tests where the tools are.
#
#   eval "$(bash scripts/databases.sh)"     # install what is missing, then print `export` lines
#   bash scripts/databases.sh check         # install nothing: verify the tools, print versions
#                                           # (exit 1 naming what is missing)
#
# Adapted from the verified runbook in ../shared/runbooks (databases.md).
#
# stdout carries ONLY `export ...` lines (so it can be eval'd); progress goes to stderr.
# No server is started here: the tests start private servers (own datadir, unix socket,
# 127.0.0.1) and the packages' system services stay stopped (policy-rc.d forbids starting them).
# When everything is installed it makes no apt call at all.
#
# Exported:
#   TERN_MARIADB_BIN  directory of mariadb, mariadb-admin, mariadb-install-db, mariadb-backup,
#                     mbstream, mariadb-dump, mariadb-binlog              (Debian: /usr/bin)
#   TERN_MARIADBD     the server binary                                   (Debian: /usr/sbin/mariadbd)
#   TERN_PG_BIN       directory of initdb, pg_ctl, postgres, pg_basebackup, pg_dump, pg_restore,
#                     pg_waldump, psql, ... (Debian keeps it off PATH: /usr/lib/postgresql/15/bin)
#   TERN_PG_OS_USER   only when run as root: the OS user to run initdb/postgres as
#                     (postgres refuses to run as root), e.g. `runuser -u postgres -- ...`
#
# Versions on Debian 12 (bookworm): MariaDB 10.11, PostgreSQL 15.
# Set TERN_PG_VERSION (e.g. 16) to pick one of several installed PostgreSQL versions.
set -euo pipefail

log() { echo "[databases] $*" >&2; }

MARIADB_TOOLS=(mariadb mariadb-admin mariadb-install-db mariadb-backup mbstream mariadb-dump mariadb-binlog)
MARIADB_PKGS=(mariadb-server mariadb-backup mariadb-client)
PG_TOOLS=(initdb pg_ctl postgres pg_basebackup pg_dump pg_restore pg_waldump psql pg_isready pg_verifybackup)
PG_OS_USER="${TERN_PG_OS_USER:-postgres}"
IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1

# --- where things are ---------------------------------------------------------------------
# scan: sets MDB_BIN, MARIADBD, PG_VER, PG_BIN, MISSING (what is absent) and PKGS (what to install)
scan() {
  local d t
  MDB_BIN="" MARIADBD="" PG_VER="${TERN_PG_VERSION:-}" PG_BIN="" MISSING=() PKGS=()

  # MariaDB: clients in one directory, the server possibly in an sbin directory
  for d in /usr/bin /usr/local/bin $(tr ':' ' ' <<<"$PATH"); do
    if [ -x "$d/mariadb" ]; then MDB_BIN=$d; break; fi
  done
  for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin $(tr ':' ' ' <<<"$PATH"); do
    if [ -x "$d/mariadbd" ]; then MARIADBD=$d/mariadbd; break; fi
  done
  for t in "${MARIADB_TOOLS[@]}"; do
    [ -n "$MDB_BIN" ] && [ -x "$MDB_BIN/$t" ] || MISSING+=("$t")
  done
  [ -n "$MARIADBD" ] || MISSING+=(mariadbd)
  [ ${#MISSING[@]} -eq 0 ] || PKGS+=("${MARIADB_PKGS[@]}")

  # PostgreSQL: the highest installed version unless TERN_PG_VERSION is set
  if [ -z "$PG_VER" ]; then
    PG_VER=$(ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -n1 || true)
  fi
  local pg_missing=()
  for t in "${PG_TOOLS[@]}"; do
    [ -n "$PG_VER" ] && [ -x "/usr/lib/postgresql/$PG_VER/bin/$t" ] || pg_missing+=("$t")
  done
  if [ ${#pg_missing[@]} -eq 0 ]; then
    PG_BIN=/usr/lib/postgresql/$PG_VER/bin
  elif [ -n "$PG_VER" ]; then
    PKGS+=("postgresql-$PG_VER" "postgresql-client-$PG_VER")
  else
    PKGS+=(postgresql postgresql-client)   # the distribution's version (15 on bookworm)
  fi
  MISSING+=("${pg_missing[@]/#/postgresql }")

  # postgres refuses to run as root: as root the tests need an unprivileged OS user
  if [ $IS_ROOT = 1 ]; then
    id -u "$PG_OS_USER" >/dev/null 2>&1 || MISSING+=("OS user $PG_OS_USER (created by postgresql-common)")
    command -v runuser >/dev/null || MISSING+=(runuser)
  fi
  return 0
}

# --- check: verify only -------------------------------------------------------------------
if [ "${1:-}" = check ]; then
  scan
  if [ ${#MISSING[@]} -gt 0 ]; then
    log "missing: $(printf '%s, ' "${MISSING[@]}" | sed 's/, $//')"
    log "install with: bash $0"
    exit 1
  fi
  echo "mariadbd:        $("$MARIADBD" --version)"
  echo "mariadb-backup:  $("$MDB_BIN/mariadb-backup" --version 2>&1 | tail -n1)"
  echo "mariadb client:  $("$MDB_BIN/mariadb" --version)"
  echo "postgres:        $("$PG_BIN/postgres" --version)"
  echo "pg_basebackup:   $("$PG_BIN/pg_basebackup" --version)"
  echo "TERN_MARIADB_BIN=$MDB_BIN TERN_MARIADBD=$MARIADBD TERN_PG_BIN=$PG_BIN"
  [ $IS_ROOT = 1 ] && echo "TERN_PG_OS_USER=$PG_OS_USER ($(id "$PG_OS_USER"))"
  exit 0
elif [ $# -gt 0 ]; then
  log "usage: eval \"\$(bash $0)\"   |   bash $0 check"; exit 2
fi

# --- install what is missing --------------------------------------------------------------
scan
if [ ${#MISSING[@]} -gt 0 ]; then
  if [ $IS_ROOT != 1 ] || ! command -v apt-get >/dev/null; then
    log "missing: $(printf '%s, ' "${MISSING[@]}" | sed 's/, $//')"
    log "install as root with apt-get: ${PKGS[*]}"; exit 1
  fi
  if [ ${#PKGS[@]} -eq 0 ]; then   # e.g. no 'postgres' OS user although the packages are there
    log "missing: $(printf '%s, ' "${MISSING[@]}" | sed 's/, $//') (not fixable by installing packages)"
    exit 1
  fi
  # Keep the packages' postinst from starting system services (MariaDB, the 15/main cluster).
  # The image usually ships one ("exit 101"); create it only if missing, and remove only ours.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  trap 'if [ $created_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
  export DEBIAN_FRONTEND=noninteractive
  log "installing ${PKGS[*]} (about 25 s the first time)"
  apt-get update -qq >&2
  # The image's docker-clean hook deletes downloaded .debs after every dpkg run; MariaDB upgrades
  # perl-base, so apt runs dpkg more than once and the first try can fail: retry once.
  apt-get install -y -q --no-install-recommends "${PKGS[@]}" >&2 ||
    { log "install failed; retrying once"; apt-get install -y -q --no-install-recommends "${PKGS[@]}" >&2; }
  scan
  if [ ${#MISSING[@]} -gt 0 ]; then
    log "still missing after install: $(printf '%s, ' "${MISSING[@]}" | sed 's/, $//')"; exit 1
  fi
fi

printf 'export TERN_MARIADB_BIN=%q TERN_MARIADBD=%q\n' "$MDB_BIN" "$MARIADBD"
printf 'export TERN_PG_BIN=%q\n' "$PG_BIN"
[ $IS_ROOT = 1 ] && printf 'export TERN_PG_OS_USER=%q\n' "$PG_OS_USER"
log "ready: MariaDB $("$MARIADBD" --version | grep -oE '[0-9]+\.[0-9]+\.[0-9]+-MariaDB' || true)," \
  "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
exit 0
