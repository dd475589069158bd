#!/usr/bin/env bash
# Builds the folder of real programs the tests run: a minimal Debian "forky"
# tree (debootstrap) whose packages match the images the generated stack pins
# (HAProxy 3.2, nginx 1.30, Patroni 4.1, etcd 3.5, PostgreSQL 18). python3-etcd is
# only a Suggests of Debian's patroni, but its etcd3 DCS imports it.
# Debian 12's own packages are too old for the generated configs (HAProxy 2.6
# lacks init-state, nginx 1.22 lacks `server ... resolve`, Patroni 3.0).
# Needs root and debootstrap. Idempotent: a stamp file records a finished build.
set -euo pipefail

root="${GGHA_TOOLCHAIN:-/var/cache/generator-grafana-ha/forky}"
suite="${GGHA_TOOLCHAIN_SUITE:-forky}"
mirror="${GGHA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages=(patroni python3-etcd etcd-server etcd-client haproxy nginx-light postgresql-18 python3-psycopg2 iproute2 procps curl ca-certificates)
stamp="$root/.ggha-toolchain"
want="$suite ${packages[*]}"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "toolchain: ready in $root"
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  echo "toolchain: needs root (debootstrap, chroot)" >&2
  exit 1
fi
# Host programs: debootstrap builds the tree; ip (netns, veth) and unshare run the lab.
host_packages=(debootstrap iproute2 util-linux)
if ! command -v debootstrap >/dev/null || ! command -v ip >/dev/null || ! command -v unshare >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${host_packages[@]}" >/dev/null
fi

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
echo "$want" > "$stamp"
echo "toolchain: built in $root"
chroot "$root" sh -c 'haproxy -v | head -1; nginx -v 2>&1; patroni --version; etcd --version | head -1; ls /usr/lib/postgresql'
