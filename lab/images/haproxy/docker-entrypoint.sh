#!/bin/sh
# Stand-in entrypoint, written here from the image's documented behaviour: a
# first argument that is an option means "haproxy <options>"; haproxy runs in
# master-worker mode (-W, so SIGUSR2 reloads) in the foreground (-db).
set -e
case "$1" in -*) set -- haproxy "$@" ;; esac
if [ "$1" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
