#!/bin/sh
# Stand-in entrypoint. The image's own one runs /docker-entrypoint.d/*.sh
# (templates, IPv6 listen, worker tuning) before nginx; none of them changes a
# mounted /etc/nginx/nginx.conf, which is all the generated stack uses.
set -e
exec "$@"
