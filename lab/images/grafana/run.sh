#!/bin/bash
# Stand-in for Grafana's /run.sh: every GF_<SECTION>_<KEY>__FILE variable
# becomes GF_<SECTION>_<KEY> with the file's contents (setting both is an
# error, as in the image), then the server starts with $GF_PATHS_CONFIG.
set -euo pipefail
for var in $(compgen -e | grep -E '^GF_.+__FILE$' || true); do
  name="${var%__FILE}"
  if [[ -n "${!name:-}" ]]; then
    echo "ERROR: both $name and $var are set (but are exclusive)" >&2
    exit 1
  fi
  export "$name=$(< "${!var}")"
  unset "$var"
done
exec node /usr/share/grafana/standin/grafana-standin.js "$GF_PATHS_CONFIG"
