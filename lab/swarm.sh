#!/usr/bin/env bash
# A real multi-node Docker Swarm on this one machine, for the tests: N Docker Engines, each in a
# network (and UTS) namespace of its own, joined by one bridge, plus a local image registry (Debian's
# docker-registry) on that bridge. Nothing here touches the host's own network setup beyond the
# bridge and the veth pairs it creates, and `stop` removes those; every process is ended by its PID.
#
#   swarm.sh start N      start N engines (node1…nodeN) and the registry; N managers in one swarm
#   swarm.sh add          one more engine, joined as a worker; prints its number
#   swarm.sh stop         stop everything this script started, remove namespaces, bridge, state
#   swarm.sh env I        the DOCKER_HOST of node I ; ip I: its address on the bridge
#   swarm.sh cut I        cut node I off the bridge (the host is lost to the others) ; heal I: back
#   swarm.sh kill I       SIGKILL every process in node I's namespace (engine and containers)
#   swarm.sh restart I    start node I's engine again after a kill (it rejoins the swarm)
#
# Inside its own namespace each engine keeps its iptables and ip forwarding there (the host's stay
# untouched: net.ipv4.ip_forward stays 0, so nothing is routed off the bridge).
set -euo pipefail
cache="${GGHA_CACHE:-/var/cache/generator-grafana-ha}"
prefix="$cache/docker"
state="${GGHA_SWARM_STATE:-/var/lib/generator-grafana-ha/swarm}"
run="${GGHA_SWARM_RUN:-/run/ggha-swarm}"
bridge=ggha-swbr
net=10.215.0          # the bridge: host .1, node I .1I
registry="$net.1:5000"

node_ip() { echo "$net.$((10 + $1))"; }
sock() { echo "$run/node$1/docker.sock"; }
docker_on() { local i=$1; shift; DOCKER_HOST="unix://$(sock "$i")" DOCKER_CONFIG="$cache/docker-config" "$prefix/usr/bin/docker" "$@"; }
answers() { docker_on "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_engine() {
  local i=$1 dir="$run/node$1"
  mkdir -p "$dir" "$state/node$i"
  cat > "$dir/daemon.json" <<EOF
{
  "bip": "10.216.$i.1/24",
  "default-address-pools": [{ "base": "10.$((220 + i)).0.0/16", "size": 24 }],
  "insecure-registries": ["$registry"],
  "init-path": "/usr/bin/tini-static",
  "storage-driver": "overlay2",
  "cgroup-parent": "ggha-swarm-node$i",
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "2" }
}
EOF
  # nsenter --net (not `ip netns exec`, which remounts /sys and hides the cgroup mounts); a UTS
  # namespace of its own so that each node has its own host name (the swarm's node name).
  # No DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: with it a task never pulls, even from $registry.
  PATH="$prefix/usr/sbin:$prefix/usr/bin:$PATH" \
    setsid nsenter --net="/var/run/netns/ggha-sw$i" unshare --uts sh -c "hostname node$i && exec dockerd \
      --config-file '$dir/daemon.json' --data-root '$state/node$i' --exec-root '$dir/exec' \
      --pidfile '$dir/dockerd.pid' -H 'unix://$(sock "$i")'" >"$dir/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 150); do
    answers "$i" && return 0
    sleep 0.2
  done
  echo "swarm: node$i's engine did not answer within 30 s:" >&2
  tail -20 "$dir/dockerd.log" >&2
  return 1
}

stop_pidfile() {
  local pidfile=$1 comm=$2
  [[ -f "$pidfile" ]] || return 0
  local pid
  pid=$(cat "$pidfile")
  if [[ -r "/proc/$pid/comm" && "$(cat "/proc/$pid/comm")" == "$comm" ]]; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do [[ -d "/proc/$pid" ]] || break; sleep 0.2; done
    [[ -d "/proc/$pid" ]] && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

kill_namespace() {
  # Every process in our node's namespace, and in the cgroup its engine puts containers under, is one
  # this script (or the engine it started) created: the engine, containerd, the shims, the containers.
  local pids
  pids="$(ip netns pids "ggha-sw$1" 2>/dev/null || true) $(find /sys/fs/cgroup/pids/"ggha-swarm-node$1" -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
  pids=$(echo $pids)
  [[ -n "$pids" ]] && kill -KILL $pids 2>/dev/null || true
  for _ in $(seq 1 50); do [[ -z "$(ip netns pids "ggha-sw$1" 2>/dev/null)" ]] && break; sleep 0.1; done
  return 0
}

# Node I's network namespace, linked to the bridge by a veth pair.
add_namespace() {
  local i=$1
  ip netns add "ggha-sw$i"
  ip link add "ggha-sw$i-h" type veth peer name eth0 netns "ggha-sw$i"
  ip link set "ggha-sw$i-h" master "$bridge" up
  ip -n "ggha-sw$i" addr add "$(node_ip "$i")/24" dev eth0
  ip -n "ggha-sw$i" link set eth0 up
  ip -n "ggha-sw$i" link set lo up
}

case "${1:-}" in
  start)
    n=${2:-3}
    [[ "$(cat /proc/sys/net/ipv4/ip_forward)" == 0 ]] || { echo "swarm: net.ipv4.ip_forward is 1 on this host; refusing" >&2; exit 1; }
    [[ -x "$prefix/usr/bin/docker-registry" ]] || { echo "swarm: no docker-registry in $prefix: run \`npm run toolchain\` as root" >&2; exit 1; }
    bash "$0" stop
    mkdir -p "$run" "$state/registry"
    ip link add "$bridge" type bridge
    ip addr add "$net.1/24" dev "$bridge"
    ip link set "$bridge" up
    for i in $(seq 1 "$n"); do add_namespace "$i"; done
    cat > "$run/registry.yml" <<EOF
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $state/registry }, delete: { enabled: true } }
http: { addr: $registry }
EOF
    setsid "$prefix/usr/bin/docker-registry" serve "$run/registry.yml" >"$run/registry.log" 2>&1 </dev/null &
    echo $! > "$run/registry.pid"
    for i in $(seq 1 "$n"); do start_engine "$i"; done
    docker_on 1 swarm init --advertise-addr "$(node_ip 1)" --default-addr-pool 10.230.0.0/16 >/dev/null
    token=$(docker_on 1 swarm join-token -q manager)
    for i in $(seq 2 "$n"); do docker_on "$i" swarm join --token "$token" --advertise-addr "$(node_ip "$i")" "$(node_ip 1):2377" >/dev/null; done
    echo "$n" > "$run/nodes"
    ;;
  stop)
    n=$(cat "$run/nodes" 2>/dev/null || echo 9)
    for i in $(seq 1 "$n"); do
      stop_pidfile "$run/node$i/dockerd.pid" dockerd
      kill_namespace "$i"
      ip netns del "ggha-sw$i" 2>/dev/null || true
      ip link del "ggha-sw$i-h" 2>/dev/null || true
    done
    stop_pidfile "$run/registry.pid" docker-registry
    ip link del "$bridge" 2>/dev/null || true
    # Mounts the engines left under their state and exec roots (overlay layers, netns files of
    # containers and overlay sandboxes, which a killed engine never unmounts) go with them.
    for dir in "$state" "$run"; do
      [[ -d "$dir" ]] || continue
      { grep -o " $dir/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
      rm -rf "$dir"
    done
    ;;
  add)
    # One more host, joined as a worker (what "adding a host" is for a user); prints its number.
    [[ -f "$run/nodes" ]] || { echo "swarm: no swarm is running" >&2; exit 1; }
    i=$(($(cat "$run/nodes") + 1))
    echo "$i" > "$run/nodes"   # first: so that stop removes whatever the next lines leave behind
    add_namespace "$i"
    start_engine "$i"
    token=$(docker_on 1 swarm join-token -q worker)
    docker_on "$i" swarm join --token "$token" --advertise-addr "$(node_ip "$i")" "$(node_ip 1):2377" >/dev/null
    echo "$i"
    ;;
  env) echo "export DOCKER_HOST=unix://$(sock "$2")" ;;
  ip) node_ip "$2" ;;
  cut) ip link set "ggha-sw$2-h" down ;;
  heal) ip link set "ggha-sw$2-h" up ;;
  kill) kill_namespace "$2" ;;
  restart) start_engine "$2" ;;
  registry) echo "$registry" ;;
  *) echo "usage: $0 start [N]|add|stop|env I|ip I|cut I|heal I|kill I|restart I|registry" >&2; exit 2 ;;
esac
