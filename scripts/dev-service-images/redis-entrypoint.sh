#!/bin/sh
# docker-entrypoint.sh of gofer-test/redis (scripts/test-images.mjs): does what the official redis image's
# entry point does, in busybox sh.
set -eu

# `docker run IMAGE --appendonly yes` and `docker run IMAGE my.conf` run redis-server with those.
first="${1:-}"
if [ "${first#-}" != "$first" ] || [ "${first%.conf}" != "$first" ]; then set -- redis-server "$@"; fi

# Started as root (the default): hand /data (a fresh volume or bind mount) to redis, then run this script
# again as redis, as the official image does with gosu; `--` keeps busybox su from taking arguments as its own.
if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec su -p -s /bin/sh -c 'exec "$0" "$@"' -- redis "$0" "$@"
fi

if [ "$(umask)" = 0022 ]; then umask 0077; fi

# Without a config file that sets protected-mode, the official image turns it off so that clients on
# other hosts (the Docker host) can connect without a password.
if [ "${1:-}" = redis-server ]; then
  config=
  if [ -f "${2:-}" ]; then config="$2"; fi
  if [ -z "$config" ] || ! grep -q '^protected-mode' "$config"; then
    shift
    if [ -n "$config" ]; then shift; fi
    set -- --protected-mode no "$@"
    if [ -n "$config" ]; then set -- "$config" "$@"; fi
    set -- redis-server "$@"
  fi
fi

exec "$@"
