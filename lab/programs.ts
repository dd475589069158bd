/**
 * How each compose service maps to a real program from the Debian toolchain.
 * Only binaries, users and image-provided folders are mapped here; every
 * config file, environment variable and secret comes from the generated stack.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { load } from 'js-yaml';
import type { ServiceSpec } from './compose-model.js';

export type ProgramKind = 'etcd' | 'patroni' | 'postgres' | 'haproxy' | 'nginx' | 'grafana-standin';

export interface Program {
  kind: ProgramKind;
  argv: string[];
  /** User name in the toolchain's /etc/passwd, or a numeric uid (the Grafana image's 472). */
  user: string | number;
  group: string | number;
  /** Extra environment set by the image (ENV lines), before compose's own. */
  imageEnv: Record<string, string>;
  /** Files the image adds (COPY lines): host path → path inside. */
  imageFiles: { hostPath: string; target: string }[];
  /** Folders the image creates, with their owner (named volumes start with these owners). */
  imageDirs: { path: string; owner: string | number }[];
  /** TCP ports the program listens on (read from its config), for the lab's forwarder. */
  ports: number[];
  /** The program's config names Docker's DNS (127.0.0.11): run the DNS stand-in next to it. */
  usesDockerDns: boolean;
}

/** Where the lab mounts Node and itself inside the toolchain tree, for the Grafana stand-in. */
export const STANDIN_NODE = '/opt/ggha-node/node';
export const STANDIN_LAB_ROOT = '/opt/ggha-lab';
const TOOLCHAIN = process.env.GGHA_TOOLCHAIN ?? '/var/cache/generator-grafana-ha/forky';
/** Files the lab keeps for images whose build steps Debian's packages do not reproduce (lab/images). */
const LAB_IMAGES = join(dirname(fileURLToPath(import.meta.url)), existsSync(join(dirname(fileURLToPath(import.meta.url)), 'images')) ? 'images' : '../../lab/images');

function mountedHostPath(spec: ServiceSpec, target: string): string | null {
  return spec.mounts.find((m) => m.target === target)?.hostPath ?? null;
}

/** The Dockerfile lines the lab honours: COPY, USER, ENV, ENTRYPOINT, CMD, `install -d -o`. */
function readDockerfile(context: string) {
  const text = readFileSync(join(context, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const json = (line: string | undefined) => (line ? (JSON.parse(line) as string[]) : []);
  const files = [...text.matchAll(/^COPY\s+(?:--\S+\s+)*(\S+)\s+(\S+)\s*$/gm)].map((m) => ({ hostPath: join(context, m[1]), target: m[2] }));
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/^ENV\s+(\w+)=(\S+)\s*$/gm)) env[m[1]] = m[2];
  const dirs = [...text.matchAll(/install -d -o (\w+)(?:\s+-g\s+\w+)?(?:\s+-m\s+\d+)?\s+(\/\S+)/g)].map((m) => ({ path: m[2], owner: m[1] }));
  return {
    files,
    env,
    dirs,
    user: /^USER\s+(\S+)/m.exec(text)?.[1] ?? 'root',
    entrypoint: json(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text)?.[1]),
    cmd: json(/^CMD\s+(\[.*\])\s*$/m.exec(text)?.[1]),
  };
}

const portsFrom = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => Number(m[1]));

export function programFor(spec: ServiceSpec): Program {
  const base = { imageEnv: {}, imageFiles: [], imageDirs: [], usesDockerDns: false };
  if (spec.buildContext && existsSync(join(spec.buildContext, 'Dockerfile'))) {
    // The Patroni image: postgres:<major> + Patroni. Debian's patroni package stands in for the pip install.
    const d = readDockerfile(spec.buildContext);
    const yml = load(readFileSync(mountedHostPath(spec, d.cmd[0]) ?? '', 'utf8')) as any;
    const ports = [yml.postgresql.listen, yml.restapi.listen].map((l: string) => Number(String(l).split(':').pop()));
    // ENV PATH=/opt/patroni/bin:$PATH — the venv does not exist here; Debian's patroni is on the default PATH.
    const path = (d.env.PATH ?? '$PATH').replace('$PATH', '/usr/local/bin:/usr/bin:/bin');
    // The image's pip venv puts patroni/patronictl in /opt/patroni/bin (the patronictl wrapper execs that path):
    // Debian's own scripts are mounted there (a binary path mapping).
    const venv = /\/opt\/patroni\/bin/.test(path) || d.files.some((f) => readFileSync(f.hostPath, 'utf8').includes('/opt/patroni/bin/'));
    const venvFiles = venv ? ['patroni', 'patronictl'].map((b) => ({ hostPath: join(TOOLCHAIN, 'usr/bin', b), target: `/opt/patroni/bin/${b}` })) : [];
    return {
      ...base,
      kind: 'patroni',
      argv: [...d.entrypoint, ...d.cmd],
      user: d.user,
      group: d.user,
      imageEnv: { PATH: path, HOME: '/var/lib/postgresql', LANG: 'C.UTF-8' },
      imageFiles: [...d.files, ...venvFiles],
      // postgres image: the socket folder belongs to postgres.
      imageDirs: [...d.dirs, { path: '/run/postgresql', owner: 'postgres' }],
      ports,
    };
  }
  const postgresImage = /^(?:docker\.io\/(?:library\/)?)?postgres:(\d+)/.exec(spec.image);
  if (postgresImage) {
    // The official postgres image: a stand-in for its entrypoint (lab/images/postgres/entrypoint-standin.sh,
    // written from the image's documented contract) on Debian's PostgreSQL of the same major. The image's
    // build steps the lab reproduces: listen_addresses = '*' in the sample config (a copy of Debian's, mounted
    // over it), ENV PATH/PGDATA, /var/run/postgresql. The image starts as root and steps down with gosu; the
    // lab starts it as `postgres` directly (no gosu in Debian).
    const major = postgresImage[1];
    const sample = `/usr/share/postgresql/${major}/postgresql.conf.sample`;
    const munged = join(tmpdir(), 'ggha-lab-images', `postgresql-${major}.conf.sample`);
    mkdirSync(dirname(munged), { recursive: true });
    writeFileSync(munged, readFileSync(join(TOOLCHAIN, sample), 'utf8').replace(/^#?(listen_addresses)\s*=\s*\S+.*$/m, "$1 = '*'"));
    return {
      ...base,
      kind: 'postgres',
      argv: ['/usr/local/bin/docker-entrypoint.sh', 'postgres'],
      user: 'postgres',
      group: 'postgres',
      imageEnv: {
        PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/${major}/bin`,
        PG_MAJOR: major,
        PGDATA: Number(major) >= 18 ? `/var/lib/postgresql/${major}/docker` : '/var/lib/postgresql/data',
        // The image sets en_US.utf8 (it generates that locale); the toolchain has C.UTF-8.
        LANG: 'C.UTF-8',
        HOME: '/var/lib/postgresql',
      },
      imageFiles: [
        { hostPath: join(LAB_IMAGES, 'postgres/entrypoint-standin.sh'), target: '/usr/local/bin/docker-entrypoint.sh' },
        { hostPath: munged, target: sample },
      ],
      imageDirs: [
        { path: Number(major) >= 18 ? '/var/lib/postgresql' : '/var/lib/postgresql/data', owner: 'postgres' },
        { path: '/run/postgresql', owner: 'postgres' },
      ],
      ports: [5432],
    };
  }
  if (spec.image.includes('etcd')) {
    const ports = [spec.environment.ETCD_LISTEN_CLIENT_URLS, spec.environment.ETCD_LISTEN_PEER_URLS].map((u) => Number(new URL(u).port));
    return { ...base, kind: 'etcd', argv: ['/usr/bin/etcd'], user: 'root', group: 'root', ports };
  }
  if (spec.image.includes('haproxy')) {
    const cfg = readFileSync(mountedHostPath(spec, '/usr/local/etc/haproxy/haproxy.cfg') ?? '', 'utf8');
    return {
      ...base,
      kind: 'haproxy',
      // What the official image's entrypoint runs: master-worker, foreground.
      argv: ['/usr/sbin/haproxy', '-W', '-db', '-f', '/usr/local/etc/haproxy/haproxy.cfg'],
      user: 'haproxy',
      group: 'haproxy',
      ports: portsFrom(cfg, /^\s*bind\s+\S*:(\d+)/gm),
      usesDockerDns: cfg.includes('127.0.0.11'),
    };
  }
  if (spec.image.includes('nginx')) {
    const cfg = readFileSync(mountedHostPath(spec, '/etc/nginx/nginx.conf') ?? '', 'utf8');
    return {
      ...base,
      kind: 'nginx',
      argv: ['/usr/sbin/nginx', '-g', 'daemon off;'],
      // nginx-unprivileged runs as its `nginx` user; Debian's unprivileged web user is www-data.
      user: 'www-data',
      group: 'www-data',
      ports: portsFrom(cfg, /^\s*listen\s+(?:\S+:)?(\d+)/gm),
      usesDockerDns: cfg.includes('127.0.0.11'),
    };
  }
  if (spec.image.includes('grafana')) {
    const ini = readFileSync(mountedHostPath(spec, '/etc/grafana/grafana.ini') ?? '', 'utf8');
    return {
      ...base,
      kind: 'grafana-standin',
      argv: [STANDIN_NODE, `${STANDIN_LAB_ROOT}/dist/lab/grafana-standin.js`, '/etc/grafana/grafana.ini'],
      // The Grafana image runs as uid 472, group root.
      user: 472,
      group: 0,
      imageDirs: [{ path: '/var/lib/grafana', owner: 472 }],
      ports: portsFrom(ini, /^\s*http_port\s*=\s*(\d+)/gm),
    };
  }
  throw new Error(`lab: no program for service ${spec.name} (image ${spec.image})`);
}
