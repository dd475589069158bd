#!/usr/bin/env bash
# The test engine: a real Docker Engine (dockerd from Debian 13's docker.io,
# unpacked by lab/toolchain.sh) run with its own data root, exec root, pidfile
# and socket, so it never touches a system Docker, and with iptables, NAT and
# ip forwarding off: containers reach each other and this host, nothing else.
#
#   bash lab/engine.sh start   start it (no-op when it already answers); prints its PID
#   bash lab/engine.sh stop [PID]  stop the dockerd whose PID is in our pidfile (never by name); with PID, only if it is still that one
#   bash lab/engine.sh running exit 0 when it answers on its socket
#   bash lab/engine.sh env     the variables a shell needs to use it (eval "$(bash lab/engine.sh env)")
#   bash lab/engine.sh check   exit 0 when the engine can be started here, else say why
set -euo pipefail

cache="${GGHA_CACHE:-/var/cache/generator-grafana-ha}"
prefix="$cache/docker"                      # dpkg-deb -x of docker.io, docker-cli, docker-compose, docker-buildx
state="${GGHA_ENGINE_STATE:-/var/lib/generator-grafana-ha/engine}"
run="${GGHA_ENGINE_RUN:-/run/ggha-engine}"
sock="$run/docker.sock"
pidfile="$run/dockerd.pid"
# Bridges and every network Compose creates come from this private pool; the
# host gets the .1 of each, which is how the tests reach containers directly.
pool="${GGHA_ENGINE_POOL:-10.214.0.0/16}"
bip="${GGHA_ENGINE_BIP:-10.214.0.1/24}"

print_env() {
  echo "export DOCKER_HOST=unix://$sock"
  echo "export DOCKER_CONFIG=$cache/docker-config"
  echo "export PATH=$prefix/usr/bin:\$PATH"
}

answers() { DOCKER_HOST="unix://$sock" DOCKER_CONFIG="$cache/docker-config" "$prefix/usr/bin/docker" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

missing() {
  [[ $EUID -eq 0 ]] || { echo "not root (dockerd needs it)"; return; }
  [[ -x "$prefix/usr/sbin/dockerd" ]] || { echo "no Docker Engine in $prefix: run \`npm run toolchain\` as root"; return; }
  command -v containerd >/dev/null || { echo "no containerd: run \`npm run toolchain\` as root"; return; }
  return 0
}

case "${1:-}" in
  env) print_env ;;
  running) answers ;;
  check)
    why=$(missing)
    [[ -z "$why" ]] || { echo "$why"; exit 1; }
    ;;
  start)
    why=$(missing)
    [[ -z "$why" ]] || { echo "engine: $why" >&2; exit 1; }
    if answers; then cat "$pidfile"; exit 0; fi
    # Forwarding must stay off: with it on, this host would route containers' packets out.
    if [[ "$(cat /proc/sys/net/ipv4/ip_forward)" != 0 ]]; then
      echo "engine: net.ipv4.ip_forward is 1 on this host; refusing to start an engine whose containers could be routed out" >&2
      exit 1
    fi
    mkdir -p "$state" "$run" "$cache/docker-config"
    # insecure-registries: the swarm lab's registry (lab/swarm.sh), plain HTTP on its own bridge.
    cat > "$run/daemon.json" <<EOF
{
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "ipv6": false,
  "bip": "$bip",
  "default-address-pools": [{ "base": "$pool", "size": 24 }],
  "init-path": "/usr/bin/tini-static",
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "2" },
  "features": { "buildkit": true },
  "insecure-registries": ["10.215.0.1:5000"]
}
EOF
    # setsid: the engine is not in the caller's process group (a Ctrl-C to the tests
    # must not kill it before the tests' own cleanup has removed their stacks).
    PATH="$prefix/usr/sbin:$prefix/usr/bin:$PATH" setsid dockerd \
      --config-file "$run/daemon.json" --data-root "$state" --exec-root "$run/exec" \
      --pidfile "$pidfile" -H "unix://$sock" >"$run/dockerd.log" 2>&1 < /dev/null &
    for _ in $(seq 1 150); do
      answers && { cat "$pidfile"; exit 0; }
      sleep 0.2
    done
    echo "engine: dockerd did not answer within 30 s; its log:" >&2
    tail -20 "$run/dockerd.log" >&2
    exit 1
    ;;
  stop)
    # `stop PID`: only if the running engine is still the one that caller started (a later run may
    # have started another since, which is not the caller's to stop).
    [[ -f "$pidfile" ]] || exit 0
    pid=$(cat "$pidfile")
    if [[ -n "${2:-}" && "$2" != "$pid" ]]; then exit 0; fi
    # Only the process our pidfile names, and only if it is a dockerd.
    if [[ -r "/proc/$pid/comm" && "$(cat "/proc/$pid/comm")" == dockerd ]]; then
      kill -TERM "$pid"
      for _ in $(seq 1 150); do [[ -d "/proc/$pid" ]] || break; sleep 0.2; done
      [[ -d "/proc/$pid" ]] && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
    ;;
  *) echo "usage: $0 start|stop [PID]|running|env|check" >&2; exit 2 ;;
esac
