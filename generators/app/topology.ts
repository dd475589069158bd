/**
 * Step 2 of the pipeline: validated answers → the topology of the stack. Every
 * service name, port, network, peer list and secret is decided here, once;
 * the renderers only lay these facts out in each file's format.
 */
import { IMAGES, PATRONI_VERSION, POSTGRES_IMAGES } from './catalog.js';
import { FAILOVER_PROFILES, type PatroniTiming } from './failover-profiles.js';
import type { Answers, DbMode, LoadBalancerKind, SslMode } from './questions.js';

/** Networks: only `edge` reaches the host (and the outside); `app` and `db` are internal. */
export const NETWORKS = {
  /** Load balancer ↔ Grafana replicas; the way out to an external database. */
  edge: 'edge',
  /** Grafana's alerting gossip between the replicas; Grafana replicas ↔ the database router or server. */
  app: 'app',
  /** Database router ↔ Patroni nodes ↔ etcd. */
  db: 'db',
} as const;

export interface EtcdMember {
  name: string;
  clientPort: number;
  peerPort: number;
  peerUrl: string;
  clientUrl: string;
  /**
   * `new` for the members that founded the cluster; `existing` for a member
   * added to a running cluster, which must be announced first (`etcdctl member add`).
   */
  initialClusterState: 'new' | 'existing';
  /** The members this one expects on its first start: the founders, or everyone up to itself. */
  initialCluster: string;
}

/** Where each etcd member's named volume is mounted (the image's own, root-owned 0755 directory). */
export const ETCD_DATA_VOLUME = '/var/lib/etcd';

/**
 * etcd's data directory (ETCD_DATA_DIR) inside that volume. etcd wants it 0700: it creates a missing
 * one so, and warns on every start about an existing one that is not (the volume root is 0755).
 * Stacks generated before `etcdDataDir` was recorded keep their data in the volume root, and must:
 * a member restarted with an empty data dir under its old name cannot rejoin its cluster.
 */
export const ETCD_DATA_DIRS = {
  /** New stacks: a subdirectory etcd creates itself, 0700. */
  current: `${ETCD_DATA_VOLUME}/data`,
  /** Stacks generated before the layout was recorded: the volume root. */
  volumeRoot: ETCD_DATA_VOLUME,
} as const;
export type EtcdDataDir = (typeof ETCD_DATA_DIRS)[keyof typeof ETCD_DATA_DIRS];

/** Facts about the stack's past that its answers alone do not tell; kept in `.yo-rc.json`. */
export interface StackHistory {
  /** etcd members the cluster was bootstrapped with; later members joined a running cluster. */
  etcdFoundingMembers: number;
  /** The data directory every etcd member of this stack has used from its first start; never moved. */
  etcdDataDir: EtcdDataDir;
}

export interface PatroniNode {
  name: string;
  postgresPort: number;
  restApiPort: number;
  /** Mounted into the node as /etc/patroni/patroni.yml. */
  configFile: string;
}

export interface GrafanaReplica {
  name: string;
  httpPort: number;
  /** Unified alerting memberlist gossip (TCP and UDP). */
  gossipPort: number;
  /** This replica's name on the `app` network only, so that gossip never goes over `edge`. */
  gossipHost: string;
}

export interface SecretSpec {
  name: string;
  file: string;
  purpose: string;
  /** Only the user knows it (an external database's password): never invented. */
  userProvided?: boolean;
}

/** Patroni + etcd, with HAProxy in front following the leader through Patroni's REST API. */
export interface PatroniCluster {
  mode: 'patroni';
  etcd: {
    members: EtcdMember[];
    image: string;
    /** Where each member's named volume is mounted, and etcd's data directory (the same for every member). */
    dataVolume: string;
    dataDir: EtcdDataDir;
  };
  patroni: {
    nodes: PatroniNode[];
    timing: PatroniTiming;
    synchronous: boolean;
    postgresMajor: number;
    baseImage: string;
    /** Patroni's upstream release, installed from PGDG's apt repository. */
    version: string;
    /** Where each node's named volume is mounted, and PostgreSQL's data directory inside it. */
    dataVolume: string;
    dataDir: string;
    binDir: string;
  };
  dbRouter: {
    name: string;
    primaryPort: number;
    replicaPort: number;
    /** HTTP port answering 200 only while exactly one primary is routable. */
    statusPort: number;
    image: string;
  };
}

/** One PostgreSQL container, no database HA: for development and trials. */
export interface SinglePostgres {
  mode: 'single';
  server: { name: string; port: number; image: string; postgresMajor: number; dataVolume: string };
}

/** A PostgreSQL run elsewhere (managed service, another team's cluster). */
export interface ExternalPostgres {
  mode: 'external';
}

export type DatabaseTopology = PatroniCluster | SinglePostgres | ExternalPostgres;

/** Where and how Grafana connects, whatever the mode. */
export interface GrafanaDatabase {
  host: string;
  port: number;
  name: string;
  user: string;
  sslMode: SslMode;
  /** CA certificate, copied into the stack, for ssl_mode=verify-full. */
  caCert?: { file: string; source: string };
}

export interface Topology {
  project: string;
  answers: Answers;
  database: DatabaseTopology;
  grafana: {
    replicas: GrafanaReplica[];
    image: string;
    publicUrl: string;
    database: GrafanaDatabase;
  };
  loadBalancer: {
    name: string;
    kind: LoadBalancerKind;
    image: string;
    /** Unprivileged port inside the container; published as `publishedPort`. */
    listenPort: number;
    publishedPort: number;
    /** HTTP port for the load balancer's own health (HAProxy stats / nginx status). */
    statusPort: number;
  };
  /** The secrets this stack uses (depends on the database mode). */
  secrets: Partial<Record<SecretKey, SecretSpec>>;
}

export type SecretKey =
  | 'postgresSuperuser'
  | 'postgresReplication'
  | 'patroniRestApi'
  | 'grafanaDb'
  | 'grafanaSecretKey'
  | 'grafanaAdmin';

export const SECRETS_DIR = 'secrets';
const secret = (name: string, purpose: string): SecretSpec => ({ name, file: `${SECRETS_DIR}/${name}`, purpose });

export const SECRETS: Record<SecretKey, SecretSpec> = {
  postgresSuperuser: secret('postgres-superuser-password', 'PostgreSQL superuser (postgres), used by Patroni'),
  postgresReplication: secret('postgres-replication-password', 'PostgreSQL replication user (replicator)'),
  patroniRestApi: secret('patroni-restapi-password', "Patroni REST API's unsafe methods (user patroni)"),
  grafanaDb: secret('grafana-db-password', "Grafana's PostgreSQL role (grafana)"),
  grafanaSecretKey: secret('grafana-secret-key', 'Grafana [security] secret_key: encrypts data source secrets'),
  grafanaAdmin: secret('grafana-admin-password', 'Grafana admin user, applied on the first start only'),
};

/** Grafana's root_url, and the links built from it, expect a trailing slash. */
const withTrailingSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

const etcdName = (i: number) => `etcd-${i}`;
const etcdPeerUrl = (i: number) => `http://${etcdName(i)}:2380`;
const etcdCluster = (upTo: number) =>
  range(upTo)
    .map((i) => `${etcdName(i)}=${etcdPeerUrl(i)}`)
    .join(',');

/**
 * The official postgres image moved its data from /var/lib/postgresql/data
 * (≤ 17) to /var/lib/postgresql/<major>/docker (18+, VOLUME /var/lib/postgresql):
 * mount the named volume where that image declares its volume.
 */
function postgresData(major: number) {
  return major >= 18
    ? { dataVolume: '/var/lib/postgresql', dataDir: `/var/lib/postgresql/${major}/docker` }
    : { dataVolume: '/var/lib/postgresql/data', dataDir: '/var/lib/postgresql/data/pgdata' };
}

function patroniCluster(answers: Answers, history?: StackHistory): PatroniCluster {
  const founders = Math.min(history?.etcdFoundingMembers ?? answers.etcdMembers, answers.etcdMembers);
  const etcdMembers = range(answers.etcdMembers).map(
    (i): EtcdMember => ({
      name: etcdName(i),
      clientPort: 2379,
      peerPort: 2380,
      peerUrl: etcdPeerUrl(i),
      clientUrl: `http://${etcdName(i)}:2379`,
      initialClusterState: i <= founders ? 'new' : 'existing',
      initialCluster: etcdCluster(Math.max(i, founders)),
    }),
  );
  const nodes = range(answers.patroniNodes).map(
    (i): PatroniNode => ({ name: `pg-${i}`, postgresPort: 5432, restApiPort: 8008, configFile: `patroni/pg-${i}.yml` }),
  );
  return {
    mode: 'patroni',
    // A first generation (no history) gets the current layout; an older stack keeps its own, new members too.
    etcd: { members: etcdMembers, image: IMAGES.etcd, dataVolume: ETCD_DATA_VOLUME, dataDir: history?.etcdDataDir ?? ETCD_DATA_DIRS.current },
    patroni: {
      nodes,
      timing: FAILOVER_PROFILES[answers.failoverProfile],
      synchronous: answers.synchronousReplication,
      postgresMajor: answers.postgresMajor,
      baseImage: POSTGRES_IMAGES[answers.postgresMajor],
      version: PATRONI_VERSION,
      ...postgresData(answers.postgresMajor),
      binDir: `/usr/lib/postgresql/${answers.postgresMajor}/bin`,
    },
    dbRouter: { name: 'db-router', primaryPort: 5432, replicaPort: 5433, statusPort: 8404, image: IMAGES.haproxy },
  };
}

function databaseTopology(answers: Answers, history?: StackHistory): DatabaseTopology {
  switch (answers.dbMode) {
    case 'patroni':
      return patroniCluster(answers, history);
    case 'single':
      return {
        mode: 'single',
        server: {
          name: 'postgres',
          port: 5432,
          image: POSTGRES_IMAGES[answers.postgresMajor],
          postgresMajor: answers.postgresMajor,
          // The image's own PGDATA applies: only the volume's place is ours to choose.
          dataVolume: postgresData(answers.postgresMajor).dataVolume,
        },
      };
    case 'external':
      return { mode: 'external' };
  }
}

/** The endpoint Grafana uses: the router's primary port, the single server, or the external host. */
function grafanaDatabase(answers: Answers, db: DatabaseTopology): GrafanaDatabase {
  const account = { name: answers.dbName, user: answers.dbUser };
  switch (db.mode) {
    case 'patroni':
      return { host: db.dbRouter.name, port: db.dbRouter.primaryPort, ...account, sslMode: 'disable' };
    case 'single':
      return { host: db.server.name, port: db.server.port, ...account, sslMode: 'disable' };
    case 'external':
      return {
        host: answers.dbHost,
        port: answers.dbPort,
        ...account,
        sslMode: answers.dbSslMode,
        caCert: answers.dbSslMode === 'verify-full' ? { file: EXTERNAL_CA_FILE, source: answers.dbCaFile } : undefined,
      };
  }
}

/** Secrets each mode needs; an external database brings its own superuser and replication. */
const SECRETS_BY_MODE: Record<DbMode, SecretKey[]> = {
  patroni: ['postgresSuperuser', 'postgresReplication', 'patroniRestApi', 'grafanaDb', 'grafanaSecretKey', 'grafanaAdmin'],
  single: ['postgresSuperuser', 'grafanaDb', 'grafanaSecretKey', 'grafanaAdmin'],
  external: ['grafanaDb', 'grafanaSecretKey', 'grafanaAdmin'],
};

function secretsFor(mode: DbMode): Partial<Record<SecretKey, SecretSpec>> {
  const specs: Partial<Record<SecretKey, SecretSpec>> = Object.fromEntries(SECRETS_BY_MODE[mode].map((key) => [key, SECRETS[key]]));
  if (mode === 'external') {
    specs.grafanaDb = { ...SECRETS.grafanaDb, purpose: "the password of Grafana's role on the external database", userProvided: true };
  }
  return specs;
}

export function buildTopology(answers: Answers, history?: StackHistory): Topology {
  const database = databaseTopology(answers, history);
  const replicas = range(answers.grafanaReplicas).map(
    (i): GrafanaReplica => ({ name: `grafana-${i}`, httpPort: 3000, gossipPort: 9094, gossipHost: `grafana-${i}.${NETWORKS.app}` }),
  );
  return {
    project: answers.projectName,
    answers,
    database,
    grafana: {
      replicas,
      image: IMAGES.grafana(answers.grafanaVersion),
      publicUrl: withTrailingSlash(answers.publicUrl),
      database: grafanaDatabase(answers, database),
    },
    loadBalancer: {
      name: 'lb',
      kind: answers.loadBalancer,
      image: answers.loadBalancer === 'haproxy' ? IMAGES.haproxy : IMAGES.nginx,
      listenPort: 8080,
      publishedPort: answers.httpPort,
      statusPort: 8404,
    },
    secrets: secretsFor(answers.dbMode),
  };
}

/** The database services of each mode, in start-up order. */
export function databaseServiceNames(db: DatabaseTopology): string[] {
  switch (db.mode) {
    case 'patroni':
      return [...db.etcd.members.map((m) => m.name), ...db.patroni.nodes.map((n) => n.name), db.dbRouter.name];
    case 'single':
      return [db.server.name];
    case 'external':
      return [];
  }
}

/** Every Compose service, in start-up order. */
export const serviceNames = (t: Topology): string[] => [
  ...databaseServiceNames(t.database),
  ...t.grafana.replicas.map((r) => r.name),
  t.loadBalancer.name,
];

/** Where the CA certificate of an external database is copied, in the stack folder. */
export const EXTERNAL_CA_FILE = 'grafana/db-ca.crt';
