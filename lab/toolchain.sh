#!/usr/bin/env bash
# Installs everything the tests need, as root, idempotently:
#  1. host packages (debootstrap, iproute2, containerd, runc, tini, iptables — the
#     engine sets up Docker's DNS with iptables inside each container's own
#     network namespace; the host's tables are never touched);
#  2. the Docker Engine, Compose v2 and buildx: Debian 13's docker.io,
#     docker-cli, docker-compose and docker-buildx, unpacked (dpkg-deb -x) into
#     /var/cache/generator-grafana-ha/docker — Debian 12 has no docker.io 26;
#  3. the config checkers' tree: a Debian "forky" tree (debootstrap) whose
#     packages match the images the stack pins (HAProxy 3.2, nginx 1.30,
#     Patroni 4.1, etcd 3.5, PostgreSQL 18); Debian 12's are too old for the
#     generated configs (HAProxy 2.6 lacks init-state, nginx 1.22 lacks
#     `server ... resolve`, Patroni 3.0). python3-etcd is only a Suggests of
#     Debian's patroni, but its etcd3 DCS imports it;
#  4. the stand-in images, built into the test engine (lab/images/build.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${GGHA_CACHE:-/var/cache/generator-grafana-ha}"

root="${GGHA_TOOLCHAIN:-/var/cache/generator-grafana-ha/forky}"
suite="${GGHA_TOOLCHAIN_SUITE:-forky}"
mirror="${GGHA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages=(patroni python3-etcd etcd-server etcd-client haproxy nginx-light postgresql-18 python3-psycopg2 iproute2 procps curl ca-certificates shellcheck)
stamp="$root/.ggha-toolchain"
want="$suite ${packages[*]}"

if [[ $EUID -ne 0 ]]; then
  echo "toolchain: needs root (apt-get, debootstrap, chroot, dockerd)" >&2
  exit 1
fi

# 1. Host packages.
host_packages=(debootstrap iproute2 util-linux containerd runc tini iptables apt-utils openssl)
if ! dpkg -s "${host_packages[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${host_packages[@]}" >/dev/null
fi

# 2. The engine, from Debian 13 (trixie), with an apt configuration of its own (the host's sources stay as they are).
# docker-registry: the local registry lab/swarm.sh hands images to the swarm's nodes with; unpacked
# like the rest, so that no package script starts a registry of its own.
engine_debs=(docker.io docker-cli docker-compose docker-buildx docker-registry)
prefix="$cache/docker"
if [[ ! -x "$prefix/usr/sbin/dockerd" || ! -f "$prefix/.ggha-engine" || "$(cat "$prefix/.ggha-engine")" != "${engine_debs[*]}" ]]; then
  apt_dir="$cache/apt-trixie"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" > "$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache::Archives=$apt_dir/archives" -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  rm -f "$apt_dir"/*.deb
  (cd "$apt_dir" && apt-get "${apt_opts[@]}" download -qq "${engine_debs[@]}")
  rm -rf "$prefix"
  mkdir -p "$prefix"
  for deb in "$apt_dir"/*.deb; do dpkg-deb -x "$deb" "$prefix"; done
  echo "${engine_debs[*]}" > "$prefix/.ggha-engine"
fi
# Compose and buildx as CLI plugins of the tests' own DOCKER_CONFIG (the user's ~/.docker is not touched).
mkdir -p "$cache/docker-config/cli-plugins"
ln -sf "$prefix/usr/libexec/docker/cli-plugins/docker-compose" "$prefix/usr/libexec/docker/cli-plugins/docker-buildx" "$cache/docker-config/cli-plugins/"
echo "toolchain: engine $("$prefix/usr/sbin/dockerd" --version)"

# 3. The config checkers' tree.
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "toolchain: checkers ready in $root"
else
  mkdir -p "$root"
  if [[ ! -x "$root/usr/bin/apt-get" ]]; then
    # Debian 12's debootstrap has no script named after newer suites; sid's fits them all.
    debootstrap --variant=minbase "$suite" "$root" "$mirror" /usr/share/debootstrap/scripts/sid
  fi
  # Daemons must not start inside the tree while packages install.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod +x "$root/usr/sbin/policy-rc.d"
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  trap 'umount "$root/proc" 2>/dev/null || true' EXIT
  # The reachable mirror can lag the calendar: an expired Release file is not a reason to fail.
  echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99ggha-no-valid-until"
  chroot "$root" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends "${packages[@]}" >"$root/.ggha-install.log" 2>&1 \
    || { tail -20 "$root/.ggha-install.log" >&2; exit 1; }
  chroot "$root" apt-get clean
  umount "$root/proc" 2>/dev/null || true
  echo "$want" > "$stamp"
  echo "toolchain: built in $root"
  chroot "$root" sh -c 'haproxy -v | head -1; nginx -v 2>&1; patroni --version; etcd --version | head -1; ls /usr/lib/postgresql'
fi

# 4. The stand-in images, in the test engine (started for the build if it is not running, stopped after).
if ! bash "$here/engine.sh" running; then
  engine_pid=$(bash "$here/engine.sh" start)
  trap 'bash "'"$here"'/engine.sh" stop "$engine_pid"' EXIT
fi
bash "$here/images/build.sh"
