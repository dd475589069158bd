/**
 * The stack's files and where the containers see them: one table for the files every stack has, read
 * by the renderers, compose.yaml, the re-run plan and the stack README, so that no path is typed out
 * twice. A kind's own files (the load balancer's config, the Patroni nodes' image, …) are in the same
 * shape in that kind's module, which owns them.
 */
import type { SecretSpec } from './secret-specs.js';

/** One file the generator writes: where, what, and its mode (scripts are executable). */
export interface GeneratedFile {
  path: string;
  contents: string;
  mode?: number;
}

/** A file of the stack folder; `inContainer` where a service mounts it, `command` how the README runs it. */
export interface StackFile {
  path: string;
  inContainer?: string;
  command?: string;
}

/** A script of the stack folder, run from there as `./<path>`. */
export const script = (path: string): Required<Pick<StackFile, 'path' | 'command'>> => ({ path, command: `./${path}` });

export const STACK_FILES = {
  compose: { path: 'compose.yaml' },
  readme: { path: 'README.md' },
  gitignore: { path: '.gitignore' },
  /** Database dumps a script writes (a major upgrade's): Grafana's data, kept out of version control like the secrets. */
  dumps: { path: 'dumps' },
  grafanaIni: { path: 'grafana/grafana.ini', inContainer: '/etc/grafana/grafana.ini' },
  /** Sets Grafana's alerting gossip addresses to the replica's IP on `app`, then runs the image's entrypoint. */
  gossipWrapper: { path: 'grafana/gossip-address.sh', inContainer: '/etc/grafana/gossip-address.sh' },
  /** The CA certificate of an external database, copied into the stack. */
  externalDbCa: { path: 'grafana/db-ca.crt', inContainer: '/etc/grafana/db-ca.crt' },
  /** Takes a Grafana replica out of the load balancer's rotation (and back): `out|in <replica>`. */
  lbRotation: script('scripts/lb-rotation.sh'),
} as const satisfies Record<string, StackFile>;

/** Paths inside the images the stack runs or builds, which no file of the stack folder maps to. */
export const IN_IMAGE = {
  /** HAProxy's image reads its configuration here: the load balancer and the DB router alike. */
  haproxyConfig: '/usr/local/etc/haproxy/haproxy.cfg',
  /** The grafana/grafana image's ENTRYPOINT, which the gossip-address wrapper execs. */
  grafanaEntrypoint: '/run.sh',
  /** Where PGDG's (and Debian's) patroni package installs patronictl; the wrapper in /usr/local/bin execs it. */
  patronictl: '/usr/bin/patronictl',
  /** Loads the Docker secrets into PATRONI_* variables, then runs its arguments. */
  withSecrets: '/usr/local/bin/with-secrets',
  /** Patroni's post_bootstrap script, in the image built from patroni/image/. */
  postBootstrap: '/usr/local/bin/post-bootstrap',
} as const;

/** Compose mounts each secret at /run/secrets/<name>. */
export const SECRETS_IN_CONTAINER = '/run/secrets';
export const secretPath = (s: SecretSpec) => `${SECRETS_IN_CONTAINER}/${s.name}`;

/** `<file>:<where it is mounted>:ro`, as compose.yaml binds a stack file into a service. */
export const readOnlyMount = (f: { path: string; inContainer: string }) => `./${f.path}:${f.inContainer}:ro`;
