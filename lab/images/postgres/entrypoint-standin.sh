#!/bin/sh
# Lab stand-in for the official postgres image's entrypoint, written for this
# project from the image's documented contract (not upstream code): on an empty
# $PGDATA, initdb with the superuser password from POSTGRES_PASSWORD_FILE and
# POSTGRES_INITDB_ARGS, allow password (scram-sha-256) connections from any
# host, run /docker-entrypoint-initdb.d/*.sql against a socket-only server;
# then run the command (postgres) in the foreground.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of arguments, as in the image
  initdb --username=postgres --pwfile="$POSTGRES_PASSWORD_FILE" ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
  echo 'host all all all scram-sha-256' >> "$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  for script in /docker-entrypoint-initdb.d/*.sql; do
    [ -e "$script" ] || continue
    psql -v ON_ERROR_STOP=1 --username postgres --no-password --no-psqlrc --dbname postgres -f "$script"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
fi
exec "$@"
