#!/bin/sh
# /docker-entrypoint.sh of gofer-test/nginx (scripts/test-images.mjs), standing in for the official nginx
# image in test/image/compose-up.spec.ts: `nginx -g 'daemon off;'` serving the http-level files under
# /etc/nginx/conf.d, and any other command (sh, openssl, curl) run as given.
set -eu

if [ "${1:-}" = nginx ]; then
  # Debian 12's nginx (1.22) predates the upstream `server … resolve` parameter (nginx 1.27.3) that
  # deploy/nginx/gofer.conf uses: nginx reads conf.d from a copy without it, so upstream names are looked
  # up once, at start, instead of again every `resolver … valid=`. Nothing else in the files changes.
  mkdir -p /run/nginx/conf.d
  rm -f /run/nginx/conf.d/*.conf
  for file in /etc/nginx/conf.d/*.conf; do
    [ -e "$file" ] || continue
    sed -E 's/^([[:space:]]*server[[:space:]][^;{]*)[[:space:]]resolve([[:space:]]|;)/\1\2/' "$file" > "/run/nginx/conf.d/${file##*/}"
  done
fi

exec "$@"
