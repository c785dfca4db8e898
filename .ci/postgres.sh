# Sourced by .ci/run before the cargo commands: starts a throwaway PostgreSQL server on a
# loopback port for the PostgreSQL store tests and exports its URL as AUTOTAB_TEST_POSTGRES
# (with AUTOTAB_REQUIRE_POSTGRES=1, so those tests fail instead of skipping). The server is
# stopped and its data removed when the sourcing shell exits.

# Server binaries: on PATH, or Debian's versioned folder; installed from Debian if missing.
_autotab_pg_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if ! _autotab_pg_bin >/dev/null; then
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
AUTOTAB_PG_BIN="$(_autotab_pg_bin)" || { echo "postgres.sh: no initdb/pg_ctl found" >&2; return 1; }

# The server refuses to run as root: run it as an unprivileged user.
AUTOTAB_PG_USER="$(id -un)"
if [ "$(id -u)" = 0 ]; then
  AUTOTAB_PG_USER=autotabpg
  id "$AUTOTAB_PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$AUTOTAB_PG_USER"
fi
_autotab_pg_run() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$AUTOTAB_PG_USER" -- "$@"
  else
    "$@"
  fi
}

AUTOTAB_PG_DIR="$(mktemp -d /tmp/autotab-pg.XXXXXX)"
chmod 755 "$AUTOTAB_PG_DIR"
[ "$(id -u)" = 0 ] && chown "$AUTOTAB_PG_USER" "$AUTOTAB_PG_DIR"
# A free loopback port, chosen by the kernel.
AUTOTAB_PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

_autotab_pg_run "$AUTOTAB_PG_BIN/initdb" -D "$AUTOTAB_PG_DIR/data" -U postgres --auth=trust \
  --encoding=UTF8 --no-locale >"$AUTOTAB_PG_DIR/initdb.log" 2>&1 \
  || { cat "$AUTOTAB_PG_DIR/initdb.log" >&2; return 1; }
_autotab_pg_run "$AUTOTAB_PG_BIN/pg_ctl" -D "$AUTOTAB_PG_DIR/data" -l "$AUTOTAB_PG_DIR/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $AUTOTAB_PG_PORT -k $AUTOTAB_PG_DIR -c max_connections=200" start >/dev/null \
  || { cat "$AUTOTAB_PG_DIR/server.log" >&2; return 1; }

_autotab_pg_stop() {
  _autotab_pg_run "$AUTOTAB_PG_BIN/pg_ctl" -D "$AUTOTAB_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$AUTOTAB_PG_DIR"
}
trap _autotab_pg_stop EXIT

psql -q -v ON_ERROR_STOP=1 "postgres://postgres@127.0.0.1:$AUTOTAB_PG_PORT/postgres" \
  -c "CREATE ROLE autotab LOGIN PASSWORD 'autotab'" -c "CREATE DATABASE autotab OWNER autotab" >/dev/null

export AUTOTAB_TEST_POSTGRES="postgres://autotab:autotab@127.0.0.1:$AUTOTAB_PG_PORT/autotab"
export AUTOTAB_REQUIRE_POSTGRES=1
echo "$("$AUTOTAB_PG_BIN/postgres" --version) on 127.0.0.1:$AUTOTAB_PG_PORT (data in $AUTOTAB_PG_DIR)"
