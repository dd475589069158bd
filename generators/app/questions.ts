/**
 * Every question the generator asks, declared once: its answer key, CLI option,
 * prompt, default and validation. Prompts, options, `.yo-rc.json` and the
 * `--help` text are all derived from this table.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { GRAFANA_DEFAULT_VERSION, POSTGRES_DEFAULT_MAJOR, POSTGRES_IMAGES } from './catalog.js';
import { FAILOVER_PROFILES, type FailoverProfileName } from './failover-profiles.js';
import { PATRONI_NODES_MAX } from './kinds/patroni.js';
import { GRAFANA_REPLICAS_MAX } from './topology.js';
import { DATABASE_MODES, DEPLOY_TARGETS, LOAD_BALANCERS, type DbMode, type DeployTarget, type LoadBalancerKind } from './kinds/index.js';

export type { DbMode, DeployTarget, LoadBalancerKind };
const LOAD_BALANCER_KINDS = Object.keys(LOAD_BALANCERS) as LoadBalancerKind[];
const DB_MODES = Object.keys(DATABASE_MODES) as DbMode[];
const TARGETS = Object.keys(DEPLOY_TARGETS) as DeployTarget[];
/** `haproxy (active health checks) or nginx (passive checks)`: each kind as its module sums it up. */
const choicesHelp = (kinds: Record<string, { summary: string }>) => {
  const each = Object.entries(kinds).map(([name, kind]) => `${name} (${kind.summary})`);
  return `${each.slice(0, -1).join(', ')} or ${each[each.length - 1]}`;
};
const choiceHelpOf = (kinds: Record<string, { choiceHelp: string }>) =>
  Object.fromEntries(Object.entries(kinds).map(([name, kind]) => [name, kind.choiceHelp]));

/** Grafana's `[database] ssl_mode` values for PostgreSQL. */
export const SSL_MODES = ['require', 'verify-full', 'disable'] as const;
export type SslMode = (typeof SSL_MODES)[number];

export const ETCD_SIZES: readonly number[] = [1, 3, 5, 7];

/** Where pgBackRest keeps the backups and the WAL archive: a named volume on the stack's host, or none. */
export const BACKUP_REPOSITORIES = ['volume', 'none'] as const;
export type BackupRepositoryKind = (typeof BACKUP_REPOSITORIES)[number];

/** The answers as stored in `.yo-rc.json`: plain values, never secrets. */
export interface Answers {
  projectName: string;
  deployTarget: DeployTarget;
  imageRegistry: string;
  mirrorImages: boolean;
  overlayEncryption: boolean;
  grafanaReplicas: number;
  grafanaVersion: string;
  loadBalancer: LoadBalancerKind;
  httpPort: number;
  publicUrl: string;
  dbMode: DbMode;
  dbHost: string;
  dbPort: number;
  dbName: string;
  dbUser: string;
  dbSslMode: SslMode;
  dbCaFile: string;
  patroniNodes: number;
  etcdMembers: number;
  synchronousReplication: boolean;
  postgresMajor: number;
  failoverProfile: FailoverProfileName;
  backups: BackupRepositoryKind;
}

export type AnswerName = keyof Answers;
type ValueKind = 'string' | 'integer' | 'boolean';

export interface Question<K extends AnswerName = AnswerName> {
  name: K;
  /** The CLI option: the name in kebab case, e.g. `--grafana-replicas`. */
  option: string;
  kind: ValueKind;
  message: string;
  /** One line for `--help`. */
  help: string;
  choices?: readonly Answers[K][];
  /** One line per choice, shown beside it at the prompt. */
  choiceHelp?: Partial<Record<string, string>>;
  default: (answers: Partial<Answers>) => Answers[K];
  /** How `--help` shows a default that depends on other answers. */
  helpDefault?: string;
  /** What a stack recorded before this question existed had: its re-runs keep it unless told otherwise. */
  recordedBefore?: Answers[K];
  /** Asked (and validated) only when this returns true; otherwise the default is kept. */
  when?: (answers: Partial<Answers>) => boolean;
  /** Returns a problem description, or undefined when the value is fine. Receives a coerced value. */
  validate: (value: Answers[K], answers: Partial<Answers>) => string | undefined;
}

/** Whether a question applies to these answers (e.g. Patroni settings do not apply to an external database). */
export const applies = (q: Question, answers: Partial<Answers>) => !q.when || q.when(answers);

const DNS_LABEL = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
const GRAFANA_VERSION = /^\d+\.\d+\.\d+$/;

const integerIn = (min: number, max: number) => (value: number) =>
  Number.isInteger(value) && value >= min && value <= max ? undefined : `must be a whole number from ${min} to ${max}`;

const oneOf =
  <T>(choices: readonly T[]) =>
  (value: T) =>
    choices.includes(value) ? undefined : `must be one of: ${choices.join(', ')}`;

/** A mode-specific question applies when the database mode (patroni by default) asks it. */
const modeAsks = (name: AnswerName) => (answers: Partial<Answers>) => DATABASE_MODES[answers.dbMode ?? 'patroni'].asks.includes(name);

/** A target-specific question applies when the deploy target (compose by default) asks it. */
const targetAsks = (name: AnswerName) => (answers: Partial<Answers>) =>
  DEPLOY_TARGETS[answers.deployTarget ?? 'compose'].asks.includes(name);

/** `host[:port][/path]`, lower case, as `docker push` takes a repository prefix (no scheme, no tag). */
const REGISTRY_PREFIX = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*$/;
const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Letters, digits and `- . _ ~ : / [ ] %` only: the URL is written as given into grafana.ini, the
 * README's shell commands and its Markdown, so it must need no quoting or escaping in any of them
 * (no spaces, quotes, `<`, `>`, `&`, …; percent-encode anything else).
 */
const PLAIN_URL = /^[A-Za-z0-9\-._~:/[\]%]+$/;

function validatePublicUrl(value: string): string | undefined {
  if (!PLAIN_URL.test(value)) return 'must use only letters, digits and - . _ ~ : / [ ] % (percent-encode anything else)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http(s) URL, e.g. https://grafana.example.com/';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must start with http:// or https://';
  if (url.search || url.hash) return 'must not have a query or fragment';
  return undefined;
}

/** Why a file is not a readable regular file, or undefined when it is. */
export function unreadableFileProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return `${path} is not a regular file`;
    readFileSync(path);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? `${path} does not exist`
      : code === 'EACCES'
        ? `${path} is not readable`
        : `${path} cannot be read (${code ?? (error as Error).message})`;
  }
}

/** The CA file must hold one or more PEM certificates that node:crypto can parse. */
function pemCertificateProblem(path: string): string | undefined {
  if (!path) return 'is required: the CA certificate file';
  const unreadable = unreadableFileProblem(path);
  if (unreadable) return `must be a readable file (${unreadable})`;
  const blocks = readFileSync(path, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return `must hold PEM certificates (-----BEGIN CERTIFICATE-----); ${path} has none`;
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (error) {
      return `certificate ${i + 1} of ${path} does not parse: ${(error as Error).message}`;
    }
  }
  return undefined;
}

const kebabCase = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `question()` derives the option name and keeps each entry's value type tied to its answer key. */
const question = <K extends AnswerName>(q: Omit<Question<K>, 'option'>): Question<K> => ({ ...q, option: kebabCase(q.name) });

export const QUESTIONS = [
  question({
    name: 'projectName',
    kind: 'string',
    message: 'Stack name (Compose project name and Patroni scope)',
    help: 'DNS-safe stack name: lower-case letters, digits and dashes',
    default: () => 'grafana-ha',
    validate: (v) => (DNS_LABEL.test(v) ? undefined : 'must be 2-32 lower-case letters, digits or dashes, starting with a letter'),
  }),
  question({
    name: 'deployTarget',
    kind: 'string',
    message: 'Where the stack runs',
    help: choicesHelp(DEPLOY_TARGETS),
    choices: TARGETS,
    choiceHelp: choiceHelpOf(DEPLOY_TARGETS),
    default: () => 'compose',
    validate: oneOf(TARGETS),
  }),
  question({
    name: 'imageRegistry',
    kind: 'string',
    message: 'Registry prefix every swarm node pulls the Patroni image from (host[:port][/path])',
    help: 'swarm: registry prefix for the images the stack builds, e.g. registry.example.com:5000/grafana-ha',
    default: () => '',
    when: targetAsks('imageRegistry'),
    validate: (v) =>
      REGISTRY_PREFIX.test(v)
        ? undefined
        : 'is required for swarm, as host[:port][/path] in lower case (no scheme, no tag): Swarm cannot build, every node pulls',
  }),
  question({
    name: 'mirrorImages',
    kind: 'boolean',
    message: 'Pull the official images from that registry too (mirrored, for hosts without Docker Hub)?',
    help: 'swarm: name grafana, etcd, haproxy and nginx under the registry prefix too (you mirror them there)',
    default: () => false,
    when: targetAsks('mirrorImages'),
    validate: () => undefined,
  }),
  question({
    name: 'overlayEncryption',
    kind: 'boolean',
    message: 'Encrypt the overlay networks between hosts (IPsec)?',
    help: "swarm: encrypted overlays (IPsec ESP between hosts); the hosts' kernels need ESP and protocol 50 open",
    default: () => true,
    when: targetAsks('overlayEncryption'),
    validate: () => undefined,
  }),
  question({
    name: 'grafanaReplicas',
    kind: 'integer',
    message: 'How many Grafana replicas?',
    help: 'Number of Grafana replicas behind the load balancer (1 is not highly available)',
    default: () => 2,
    validate: integerIn(1, GRAFANA_REPLICAS_MAX),
  }),
  question({
    name: 'grafanaVersion',
    kind: 'string',
    message: 'Grafana version (full image tag of grafana/grafana)',
    help: 'Pinned grafana/grafana image tag, e.g. 13.2.1',
    default: () => GRAFANA_DEFAULT_VERSION,
    validate: (v) => (GRAFANA_VERSION.test(v) ? undefined : 'must be a full version such as 13.2.1'),
  }),
  question({
    name: 'loadBalancer',
    kind: 'string',
    message: 'Load balancer in front of Grafana',
    help: choicesHelp(LOAD_BALANCERS),
    choices: LOAD_BALANCER_KINDS,
    choiceHelp: choiceHelpOf(LOAD_BALANCERS),
    default: () => 'haproxy',
    validate: oneOf(LOAD_BALANCER_KINDS),
  }),
  question({
    name: 'httpPort',
    kind: 'integer',
    message: 'Host port the load balancer publishes',
    help: 'The only port the stack publishes on the host',
    default: () => 8080,
    validate: integerIn(1, 65535),
  }),
  question({
    name: 'publicUrl',
    kind: 'string',
    message: 'Public URL users open (Grafana root_url on every replica)',
    help: 'Public URL of the load balancer; becomes root_url on every replica',
    default: (a) => `http://localhost:${a.httpPort ?? 8080}/`,
    helpDefault: 'http://localhost:<http-port>/',
    validate: validatePublicUrl,
  }),
  question({
    name: 'dbMode',
    kind: 'string',
    message: 'Database high availability',
    help: choicesHelp(DATABASE_MODES),
    choices: DB_MODES,
    choiceHelp: choiceHelpOf(DATABASE_MODES),
    default: () => 'patroni',
    validate: oneOf(DB_MODES),
  }),
  question({
    name: 'dbHost',
    kind: 'string',
    message: 'External PostgreSQL host (one writable endpoint that follows failover)',
    help: 'external mode: host name or IP of the database endpoint',
    default: () => '',
    when: modeAsks('dbHost'),
    validate: (v) => (HOST_NAME.test(v) || IPV6.test(v) ? undefined : 'must be a host name or IP address (no scheme, no port)'),
  }),
  question({
    name: 'dbPort',
    kind: 'integer',
    message: 'External PostgreSQL port',
    help: 'external mode: port of the database endpoint',
    default: () => 5432,
    when: modeAsks('dbPort'),
    validate: integerIn(1, 65535),
  }),
  question({
    name: 'dbName',
    kind: 'string',
    message: "Grafana's database name",
    help: 'external mode: database Grafana uses (it must exist)',
    default: () => 'grafana',
    when: modeAsks('dbName'),
    validate: (v) => (SQL_IDENTIFIER.test(v) ? undefined : 'must be a plain lower-case PostgreSQL identifier'),
  }),
  question({
    name: 'dbUser',
    kind: 'string',
    message: "Grafana's database user",
    help: 'external mode: role Grafana logs in as (owner of its database, not a superuser)',
    default: () => 'grafana',
    when: modeAsks('dbUser'),
    validate: (v) => (SQL_IDENTIFIER.test(v) ? undefined : 'must be a plain lower-case PostgreSQL identifier'),
  }),
  question({
    name: 'dbSslMode',
    kind: 'string',
    message: 'SSL mode for the external database',
    help: 'external mode: require (encrypted), verify-full (encrypted, server certificate checked) or disable',
    choices: SSL_MODES,
    choiceHelp: {
      require: "encrypted; the server's certificate is not checked",
      'verify-full': "encrypted; the server's certificate and host name are checked against a CA file",
      disable: 'unencrypted, password included',
    },
    default: () => 'require',
    when: modeAsks('dbSslMode'),
    validate: oneOf(SSL_MODES),
  }),
  question({
    name: 'dbCaFile',
    kind: 'string',
    message: "Path to the CA certificate that signed the database's certificate",
    help: 'external mode with verify-full: CA certificate file, copied into the stack',
    default: () => '',
    when: (a) => modeAsks('dbCaFile')(a) && a.dbSslMode === 'verify-full',
    validate: (v) => pemCertificateProblem(v),
  }),
  question({
    name: 'patroniNodes',
    kind: 'integer',
    message: 'How many PostgreSQL (Patroni) nodes?',
    help: 'PostgreSQL nodes managed by Patroni: one primary, the rest replicas',
    default: () => 3,
    when: modeAsks('patroniNodes'),
    validate: integerIn(2, PATRONI_NODES_MAX),
  }),
  question({
    name: 'etcdMembers',
    kind: 'integer',
    message: 'How many etcd members? (odd, so a majority survives)',
    help: 'etcd cluster size: 1, 3, 5 or 7 (1 is not highly available)',
    choices: ETCD_SIZES,
    choiceHelp: {
      1: 'no HA: its loss stops writes',
      3: 'survives the loss of 1',
      5: 'survives the loss of 2',
      7: 'survives the loss of 3',
    },
    default: () => 3,
    when: modeAsks('etcdMembers'),
    validate: oneOf(ETCD_SIZES),
  }),
  question({
    name: 'synchronousReplication',
    kind: 'boolean',
    message: 'Synchronous replication (no acknowledged write lost on failover)?',
    help: 'Patroni synchronous_mode: zero loss of acknowledged commits on failover',
    default: () => true,
    when: modeAsks('synchronousReplication'),
    validate: () => undefined,
  }),
  question({
    name: 'postgresMajor',
    kind: 'integer',
    message: 'PostgreSQL major version',
    help: `PostgreSQL major version: ${Object.keys(POSTGRES_IMAGES).join(', ')}`,
    choices: Object.keys(POSTGRES_IMAGES)
      .map(Number)
      .sort((a, b) => b - a),
    default: () => POSTGRES_DEFAULT_MAJOR,
    when: modeAsks('postgresMajor'),
    validate: oneOf(Object.keys(POSTGRES_IMAGES).map(Number)),
  }),
  question({
    name: 'failoverProfile',
    kind: 'string',
    message: 'Failover timing',
    help: Object.entries(FAILOVER_PROFILES)
      .map(([name, p]) => `${name} (ttl ${p.ttl}s)`)
      .join(' or '),
    choices: Object.keys(FAILOVER_PROFILES) as FailoverProfileName[],
    choiceHelp: Object.fromEntries(
      Object.entries(FAILOVER_PROFILES).map(([name, p]) => [
        name,
        `ttl ${p.ttl} s, loop_wait ${p.loopWait} s, retry_timeout ${p.retryTimeout} s`,
      ]),
    ),
    default: () => 'fast',
    when: modeAsks('failoverProfile'),
    validate: oneOf(Object.keys(FAILOVER_PROFILES)),
  }),
  question({
    name: 'backups',
    kind: 'string',
    message: 'Backups and point-in-time recovery (pgBackRest)',
    help: 'pgBackRest repository: volume (a named volume on this host, encrypted) or none',
    choices: BACKUP_REPOSITORIES,
    choiceHelp: {
      volume: 'full and differential backups plus the WAL archive, in a named volume: restores lost data, not a lost host',
      none: 'no backup: a dropped table or lost volumes cannot be recovered',
    },
    // A volume is on one host: Swarm's nodes are not, so no repository there until one every host reaches.
    default: (a) => (a.deployTarget === 'swarm' ? 'none' : 'volume'),
    helpDefault: 'volume, none for swarm',
    // Turning archiving on restarts every node and wants a first backup: only when asked (the plan does both).
    recordedBefore: 'none',
    when: modeAsks('backups'),
    validate: (v, a) =>
      oneOf(BACKUP_REPOSITORIES)(v) ??
      (v === 'volume' && a.deployTarget === 'swarm'
        ? 'volume is not for swarm: the Patroni nodes run on different hosts and a named volume stays on one (use none; a repository every host reaches, such as S3, is not supported yet)'
        : undefined),
  }),
  // `any`: each entry is a Question of its own answer key, which question() already checked.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
] as const satisfies readonly Question<any>[];
