#!/bin/sh
# Stand-in for the official postgres image's entrypoint, written for this
# project from the image's documented contract (not upstream code). Started as
# root, it creates $PGDATA owned by postgres and re-runs itself as postgres
# (gosu). On an empty $PGDATA: initdb with the superuser password from
# POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD) and POSTGRES_INITDB_ARGS, allow
# password (scram-sha-256) connections from any host, run
# /docker-entrypoint-initdb.d/*.sql against a socket-only server. Then it
# execs the command (postgres) in the foreground.
set -eu
if [ "${1:-}" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec gosu postgres "$0" "$@"
fi
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile="${POSTGRES_PASSWORD_FILE:-}"
  if [ -z "$pwfile" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
      echo "Error: Database is uninitialized and superuser password is not specified (POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE)." >&2
      exit 1
    fi
    pwfile=$(mktemp)
    printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  fi
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as in the image
  initdb --username="${POSTGRES_USER:-postgres}" --pwfile="$pwfile" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
  echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  for script in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$script" ] || continue
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --no-password --no-psqlrc --dbname postgres -f "$script"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec "$@"
