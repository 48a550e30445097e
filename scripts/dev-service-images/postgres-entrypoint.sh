#!/bin/sh
# docker-entrypoint.sh of gofer-test/postgres (scripts/test-images.mjs): does what the official postgres
# image's entry point does for the inputs Gofer gives it (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB,
# POSTGRES_HOST_AUTH_METHOD, POSTGRES_INITDB_ARGS, PGDATA, extra `postgres` options), in busybox sh.
set -eu

# `docker run IMAGE -c port=15432` runs `postgres -c port=15432`.
case "${1:-}" in -*) set -- postgres "$@" ;; esac

wants_help() {
  for arg; do
    case "$arg" in '-?' | --help | --describe-config | -V | --version) return 0 ;; esac
  done
  return 1
}

if [ "${1:-}" != postgres ] || wants_help "$@"; then exec "$@"; fi

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

mkdir -p "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA" 2>/dev/null || :
chmod 3777 /var/run/postgresql 2>/dev/null || :

# Started as root (the default): hand the data directory (a fresh volume or bind mount) to postgres,
# then run this script again as postgres, as the official image does with gosu; `--` keeps busybox su from
# taking the arguments' `-c …` as its own.
if [ "$(id -u)" = 0 ]; then
  find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  exec su -p -s /bin/sh -c 'exec "$0" "$@"' -- postgres "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  POSTGRES_HOST_AUTH_METHOD="${POSTGRES_HOST_AUTH_METHOD:-}"
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.
MSG
    exit 1
  fi

  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  # Word splitting of POSTGRES_INITDB_ARGS is intended: it holds several options.
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C ${POSTGRES_INITDB_ARGS:-}
  rm -f "$pwfile"

  # Without a method, use the one the server hashes passwords with (scram-sha-256), as the official image does.
  shift
  if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then POSTGRES_HOST_AUTH_METHOD="$(postgres -C password_encryption "$@")"; fi
  set -- postgres "$@"
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >> "$PGDATA/pg_hba.conf"

  # A server on the unix socket only, to create POSTGRES_DB.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  export PGPASSWORD="$POSTGRES_PASSWORD"
  exists="$(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    --set db="$POSTGRES_DB" --tuples-only --no-align <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
  )"
  if [ -z "$exists" ]; then
    psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
      --set db="$POSTGRES_DB" <<'SQL'
CREATE DATABASE :"db";
SQL
  fi
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo 'PostgreSQL init process complete; ready for start up.'
else
  echo 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
fi

exec "$@"
