#!/usr/bin/env bash
# Builds the stand-in images into the test engine, tagged with the exact names
# the generated stack pins (read from the built generator's catalog), since no
# registry can be reached from these machines. Each one follows its upstream
# image's contract (user, paths, entrypoint, CMD, STOPSIGNAL, which tools
# exist): see the Dockerfile beside each folder and lab/README.md.
#
# A Debian forky tree (debootstrap, minbase) is the base of every rootfs; the
# packages each image needs are installed into a copy of it with chroot, the
# copy is `docker import`ed and a small Dockerfile adds the image's metadata.
# Needs root, the engine running (lab/engine.sh start) and `npm run build`.
# Skips an image whose inputs have not changed (label ggha.standin = hash).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${GGHA_CACHE:-/var/cache/generator-grafana-ha}"
base="$cache/rootfs/base"
mirror="${GGHA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
eval "$(bash "$repo/lab/engine.sh" env)"

# The names the generator pins: one source of truth, generators/app/catalog.ts.
# shellcheck disable=SC2046
read -r IMG_GRAFANA IMG_ETCD IMG_HAPROXY IMG_NGINX <<<"$(cd "$repo" && node --input-type=module -e "
  const c = await import('./dist/generators/app/catalog.js');
  console.log([c.IMAGES.grafana(c.GRAFANA_DEFAULT_VERSION), c.IMAGES.etcd, c.IMAGES.haproxy, c.IMAGES.nginx].join(' '));
")"
# Every PostgreSQL major the stack offers, as MAJOR=IMAGE lines (a re-run can upgrade from one to the next).
mapfile -t PG_IMAGES < <(cd "$repo" && node --input-type=module -e "
  const c = await import('./dist/generators/app/catalog.js');
  for (const [major, image] of Object.entries(c.POSTGRES_IMAGES)) console.log(major + '=' + image);
")

base_rootfs() {
  [[ -x "$base/usr/bin/apt-get" ]] && return
  rm -rf "$base"
  # Debian 12's debootstrap has no script named after newer suites; sid's fits them all.
  debootstrap --variant=minbase forky "$base" "$mirror" /usr/share/debootstrap/scripts/sid
  # The reachable mirror can lag the calendar: an expired Release file is not a reason to fail.
  echo 'Acquire::Check-Valid-Until "false";' > "$base/etc/apt/apt.conf.d/99ggha-no-valid-until"
  printf '#!/bin/sh\nexit 101\n' > "$base/usr/sbin/policy-rc.d"
  chmod +x "$base/usr/sbin/policy-rc.d"
}

# rootfs NAME SCRIPT: a copy of the base tree with SCRIPT run in it (chroot, as root).
rootfs() {
  local dir="$cache/rootfs/$1"
  rm -rf "$dir"
  cp -a "$base" "$dir"
  mount -t proc proc "$dir/proc"
  trap 'umount "'"$dir"'/proc" 2>/dev/null || true' RETURN
  chroot "$dir" /bin/sh -c "set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; $2; apt-get clean; rm -rf /var/lib/apt/lists/*" >"$cache/rootfs/$1.log" 2>&1 \
    || { tail -30 "$cache/rootfs/$1.log" >&2; return 1; }
  rm -f "$dir/usr/sbin/policy-rc.d"
}

# import NAME: the rootfs as image ggha-standin-rootfs/NAME.
import_rootfs() {
  tar -C "$cache/rootfs/$1" --exclude=./proc/* -c . | docker import - "ggha-standin-rootfs/$1" >/dev/null
}

# build IMAGE CONTEXT HASH [DOCKER-BUILD-ARGS...]
build() {
  docker build -q --pull=false --label "ggha.standin=$3" -t "$1" "${@:4}" "$2" >/dev/null
  echo "images: built $1"
}

hash_of() { (cd "$here" && cat "$@" | sha256sum | cut -c1-16); }
current() { docker image inspect -f '{{index .Config.Labels "ggha.standin"}}' "$1" 2>/dev/null || true; }

install_pkgs='apt-get install -y -qq --no-install-recommends'

base_rootfs

# --- etcd: distroless; only the three binaries and the libc they link.
h=$(hash_of etcd/Dockerfile build.sh)
if [[ "$(current "$IMG_ETCD")" != "$h" ]]; then
  rootfs etcd-tree "$install_pkgs etcd-server etcd-client"
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  t="$cache/rootfs/etcd-tree"
  mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/var/lib/etcd" "$ctx/rootfs/etc"
  chmod 1777 "$ctx/rootfs/tmp"
  for b in etcd etcdctl etcdutl; do cp "$t/usr/bin/$b" "$ctx/rootfs/usr/local/bin/"; done
  for lib in $(chroot "$t" ldd /usr/bin/etcd /usr/bin/etcdctl /usr/bin/etcdutl | grep -oE '/[^ ]+\.so[^ ]*' | sort -u); do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$t$lib" "$ctx/rootfs$lib"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$ctx/rootfs/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$ctx/rootfs/etc/group"
  cp "$here/etcd/Dockerfile" "$ctx/"
  build "$IMG_ETCD" "$ctx" "$h"
  rm -rf "$ctx" "$t"; trap - EXIT
fi

# --- haproxy: user haproxy 99:99; no curl, no wget.
h=$(hash_of haproxy/Dockerfile haproxy/docker-entrypoint.sh build.sh)
if [[ "$(current "$IMG_HAPROXY")" != "$h" ]]; then
  # (Debian's package creates its own system user, above uid 99: renumber it.)
  rootfs haproxy "$install_pkgs haproxy socat;
    old=\$(id -u haproxy); oldg=\$(id -g haproxy); usermod -u 99 haproxy; groupmod -g 99 haproxy;
    find / -xdev \\( -uid \$old -o -gid \$oldg \\) -exec chown -h 99:99 {} +;
    mkdir -p /usr/local/etc/haproxy /var/lib/haproxy /usr/local/sbin; chown haproxy:haproxy /var/lib/haproxy;
    ln -sf /usr/sbin/haproxy /usr/local/sbin/haproxy"
  import_rootfs haproxy
  build "$IMG_HAPROXY" "$here/haproxy" "$h"
fi

# --- nginx: user nginx 101:101, curl present, logs to the container's stdout/stderr.
h=$(hash_of nginx/Dockerfile nginx/docker-entrypoint.sh build.sh)
if [[ "$(current "$IMG_NGINX")" != "$h" ]]; then
  rootfs nginx "groupadd --system --gid 101 nginx; useradd --system --uid 101 --gid nginx --home-dir /nonexistent --no-create-home --shell /bin/false nginx;
    $install_pkgs nginx curl ca-certificates;
    mkdir -p /var/cache/nginx /var/log/nginx; chown -R 101:0 /var/cache/nginx /etc/nginx; chmod -R g+w /var/cache/nginx /etc/nginx;
    ln -sf /dev/stdout /var/log/nginx/access.log; ln -sf /dev/stderr /var/log/nginx/error.log;
    rm -rf /etc/nginx/sites-enabled /etc/nginx/sites-available;
    printf 'pid /tmp/nginx.pid;\nevents {}\nhttp {\n  client_body_temp_path /tmp/client_temp;\n  proxy_temp_path /tmp/proxy_temp;\n  server { listen 8080; location / { root /usr/share/nginx/html; } }\n}\n' > /etc/nginx/nginx.conf"
  import_rootfs nginx
  build "$IMG_NGINX" "$here/nginx" "$h"
fi

# --- postgres: postgres 999:999 before the packages; no main cluster; listen on all
# addresses in the sample config; a local apt repository in place of PGDG's source.
# One image per major. Forky carries only the newest major; an older one comes from
# trixie (the suite the official images are built on), added for that install only.
for entry in "${PG_IMAGES[@]}"; do
  major="${entry%%=*}" image="${entry#*=}"
  h=$(cd "$here" && { cat postgres/Dockerfile postgres/docker-entrypoint.sh build.sh; echo "$major"; } | sha256sum | cut -c1-16)
  [[ "$(current "$image")" == "$h" ]] && continue
  rootfs "postgres-$major" "groupadd --system --gid 999 postgres; useradd --system --uid 999 --gid postgres --home-dir /var/lib/postgresql --shell /bin/bash postgres;
    mkdir -p /var/lib/postgresql; chown postgres:postgres /var/lib/postgresql;
    $install_pkgs postgresql-common gosu;
    sed -ri 's/#(create_main_cluster) .*\$/\1 = false/' /etc/postgresql-common/createcluster.conf;
    apt-cache show postgresql-$major >/dev/null 2>&1 || { echo 'deb $mirror trixie main' > /etc/apt/sources.list.d/trixie.list; apt-get update -qq; };
    $install_pkgs postgresql-$major;
    rm -f /etc/apt/sources.list.d/trixie.list; apt-get update -qq;
    sed -ri \"s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!\" /usr/share/postgresql/$major/postgresql.conf.sample;
    grep -F \"listen_addresses = '*'\" /usr/share/postgresql/$major/postgresql.conf.sample;
    mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql; chown postgres:postgres /var/run/postgresql; chmod 3777 /var/run/postgresql;
    apt-get install -y -qq --no-install-recommends --download-only patroni python3-etcd curl pgbackrest;
    mkdir -p /usr/local/share/ggha-standin-apt; mv /var/cache/apt/archives/*.deb /usr/local/share/ggha-standin-apt/;
    rm -f /etc/apt/sources.list; rm -rf /etc/apt/sources.list.d/*;
    echo 'deb [trusted=yes] file:/usr/local/share/ggha-standin-apt ./' > /etc/apt/sources.list.d/pgdg.list"
  (cd "$cache/rootfs/postgres-$major/usr/local/share/ggha-standin-apt" && apt-ftparchive packages . > Packages)
  import_rootfs "postgres-$major"
  if [[ "$major" -ge 18 ]]; then pgdata="/var/lib/postgresql/$major/docker" volume=/var/lib/postgresql
  else pgdata=/var/lib/postgresql/data volume=/var/lib/postgresql/data; fi
  build "$image" "$here/postgres" "$h" --build-arg "PG_MAJOR=$major" --build-arg "PGDATA=$pgdata" --build-arg "DATA_VOLUME=$volume"
done

# --- grafana STAND-IN: Node + the stand-in server and the one npm package it uses (pg).
h=$(cd "$repo" && cat lab/images/grafana/Dockerfile lab/images/grafana/run.sh lab/images/build.sh dist/lab/grafana-standin.js | sha256sum | cut -c1-16)
if [[ "$(current "$IMG_GRAFANA")" != "$h" ]]; then
  rootfs grafana "$install_pkgs nodejs curl wget ca-certificates;
    useradd --uid 472 --gid 0 --home-dir /usr/share/grafana --no-create-home --shell /bin/false grafana;
    mkdir -p /etc/grafana/provisioning /var/lib/grafana/plugins /var/log/grafana /usr/share/grafana;
    chown -R 472:0 /etc/grafana /var/lib/grafana /var/log/grafana /usr/share/grafana; chmod -R 777 /var/lib/grafana /var/log/grafana"
  import_rootfs grafana
  ctx=$(mktemp -d); trap 'rm -rf "$ctx"' EXIT
  cp "$here/grafana/Dockerfile" "$here/grafana/run.sh" "$ctx/"
  mkdir -p "$ctx/standin/node_modules"
  cp "$repo/dist/lab/grafana-standin.js" "$ctx/standin/"
  echo '{ "type": "module" }' > "$ctx/standin/package.json"
  # pg and everything it depends on, from this repo's node_modules.
  (cd "$repo" && node -e "
    const seen = new Set(); const walk = (n) => { if (seen.has(n)) return; seen.add(n);
      const p = require('./node_modules/' + n + '/package.json'); Object.keys(p.dependencies || {}).forEach(walk); };
    walk('pg'); console.log([...seen].join('\n'));") | while read -r m; do
    mkdir -p "$ctx/standin/node_modules/$(dirname "$m")"
    cp -r "$repo/node_modules/$m" "$ctx/standin/node_modules/$m"
  done
  build "$IMG_GRAFANA" "$ctx" "$h"
  rm -rf "$ctx"; trap - EXIT
fi

docker image ls --format '{{.Repository}}:{{.Tag}}' | grep -v '^ggha-standin-rootfs' | sort
