/**
 * Step 3 of the pipeline: topology → every file of the stack, as data.
 * Pure: no disk writes, no secrets (files only name where secrets live).
 */
import { patroniAptPackage } from '../catalog.js';
import { replicaRestartCommands } from '../commands.js';
import { FAILOVER_PROFILES } from '../failover-profiles.js';
import { DRILLS_MEASURED, MEASURED_FAILURES } from '../measured-failures.js';
import type { SslMode } from '../questions.js';
import { NETWORKS, SECRETS_DIR, type PatroniCluster, type Topology } from '../topology.js';
import { buildsImages, renderCompose, POSTGRES_STOP_GRACE } from './compose.js';
import { GRAFANA_CONN_MAX_LIFETIME_S, renderGrafanaIni } from './grafana-ini.js';
import { PATRONI_USERS, POST_BOOTSTRAP_IN_CONTAINER, renderPatroniConfig } from './patroni.js';
import {
  ETCD_ADD_MEMBER_SCRIPT,
  GRAFANA_GOSSIP_WRAPPER,
  GRAFANA_IMAGE_ENTRYPOINT,
  HAPROXY_RUNTIME_API_PORT,
  LB_ROTATION_SCRIPT,
  PATRONICTL_IN_IMAGE,
  PATRONI_CONFIG_IN_CONTAINER,
  PATRONI_INIT_SQL,
  PATRONI_INIT_SQL_IN_CONTAINER,
  secretPath,
  SINGLE_INIT_SQL,
  WITH_SECRETS_IN_CONTAINER,
} from './paths.js';
import { renderTemplate } from './templates.js';

export interface GeneratedFile {
  path: string;
  contents: string;
  /** File mode; scripts are executable. */
  mode?: number;
}

/** nginx passive checks: one failed connection takes a replica out for this long. */
export const NGINX_PASSIVE_CHECK = { maxFails: 1, failTimeout: '5s', connectTimeout: '1s' } as const;

/** Grafana's role and database, created once by whichever PostgreSQL the stack runs. */
const initSql = (t: Topology, path: string): GeneratedFile => ({
  path,
  contents: renderTemplate('postgres/create-grafana-db.sql', {
    passwordFile: secretPath(t.secrets.grafanaDb!),
    role: t.grafana.database.user,
    database: t.grafana.database.name,
  }),
});

function patroniFiles(t: Topology, db: PatroniCluster): GeneratedFile[] {
  const { patroni, dbRouter, etcd } = db;
  const { secrets } = t;
  return [
    {
      path: 'db-router/haproxy.cfg',
      contents: renderTemplate('db-router/haproxy.cfg', {
        nodes: patroni.nodes.map((n) => n.name),
        postgresPort: patroni.nodes[0].postgresPort,
        restApiPort: patroni.nodes[0].restApiPort,
        primaryPort: dbRouter.primaryPort,
        replicaPort: dbRouter.replicaPort,
        statusPort: dbRouter.statusPort,
        grafanaConnMaxLifetime: GRAFANA_CONN_MAX_LIFETIME_S,
      }),
    },
    ...patroni.nodes.map((node) => ({ path: node.configFile, contents: renderPatroniConfig(t, db, node) })),
    {
      path: 'patroni/image/Dockerfile',
      contents: renderTemplate('patroni/Dockerfile', {
        baseImage: patroni.baseImage,
        patroniPackage: patroniAptPackage(patroni.version),
        patronictl: PATRONICTL_IN_IMAGE,
        dataVolume: patroni.dataVolume,
        withSecrets: WITH_SECRETS_IN_CONTAINER,
        postBootstrap: POST_BOOTSTRAP_IN_CONTAINER,
        initSql: PATRONI_INIT_SQL_IN_CONTAINER,
        configFile: PATRONI_CONFIG_IN_CONTAINER,
      }),
    },
    {
      path: 'patroni/image/patronictl.sh',
      mode: 0o755,
      contents: renderTemplate('patroni/patronictl.sh', {
        withSecrets: WITH_SECRETS_IN_CONTAINER,
        patronictl: PATRONICTL_IN_IMAGE,
      }),
    },
    {
      path: 'patroni/image/with-secrets.sh',
      mode: 0o755,
      contents: renderTemplate('patroni/with-secrets.sh', {
        secretsDir: '/run/secrets',
        secretVariables: [
          { variable: 'PATRONI_SUPERUSER_PASSWORD', secret: secrets.postgresSuperuser!.name },
          { variable: 'PATRONI_REPLICATION_PASSWORD', secret: secrets.postgresReplication!.name },
          { variable: 'PATRONI_RESTAPI_PASSWORD', secret: secrets.patroniRestApi!.name },
        ],
      }),
    },
    {
      path: 'patroni/image/post-bootstrap.sh',
      mode: 0o755,
      contents: renderTemplate('patroni/post-bootstrap.sh', { sqlFile: PATRONI_INIT_SQL_IN_CONTAINER }),
    },
    initSql(t, PATRONI_INIT_SQL),
    {
      path: ETCD_ADD_MEMBER_SCRIPT.slice(2),
      mode: 0o755,
      contents: renderTemplate('stack/etcd-add-member.sh', {
        script: ETCD_ADD_MEMBER_SCRIPT,
        members: etcd.members.map((m) => m.name),
        peerPort: etcd.members[0].peerPort,
      }),
    },
  ];
}

function databaseFiles(t: Topology): GeneratedFile[] {
  switch (t.database.mode) {
    case 'patroni':
      return patroniFiles(t, t.database);
    case 'single':
      return [initSql(t, SINGLE_INIT_SQL)];
    case 'external':
      // The CA certificate, when there is one, is the user's own file: the generator copies it.
      return [];
  }
}

/** The generator prints these after a first run; the stack README lists the same. */
export function firstStartCommands(t: Topology): string[] {
  return [...(buildsImages(t) ? ['docker compose build'] : []), 'docker compose up -d', 'docker compose ps'];
}

const EXTERNAL_SSL: Record<SslMode, string> = {
  disable: 'unencrypted',
  require: "encrypted, but the server's certificate is not checked",
  'verify-full': "encrypted, and the server's certificate and host name are checked against the CA file",
};

/** Every title and variant the stack README chooses between, decided here so the template only lays them out. */
function readmeFacts(t: Topology) {
  const db = t.database;
  const oneReplica = t.grafana.replicas.length === 1;
  const runsPostgres = db.mode !== 'external';
  const titles = {
    patroni: oneReplica ? 'one Grafana replica on highly available PostgreSQL (Grafana not HA)' : 'highly available Grafana',
    single: oneReplica
      ? 'one Grafana replica on a single PostgreSQL (not highly available)'
      : 'Grafana replicas on a single PostgreSQL (database not HA)',
    external: oneReplica ? 'one Grafana replica (not highly available)' : 'highly available Grafana',
  };
  const { sslMode } = t.grafana.database;
  return {
    title: titles[db.mode],
    oneReplica,
    haproxy: t.loadBalancer.kind === 'haproxy',
    lbProduct: t.loadBalancer.kind === 'haproxy' ? 'HAProxy' : 'nginx',
    /** What the load balancer answers while no replica can take a request. */
    lbNoReplicaStatus: t.loadBalancer.kind === 'haproxy' ? 503 : 502,
    buildsImages: buildsImages(t),
    etcdSinglePoint: db.mode === 'patroni' && db.etcd.members.length === 1,
    refusedChanges: runsPostgres ? 'the project name, the PostgreSQL major version or the database mode' : 'the project name or the database mode',
    containerUsers: runsPostgres ? 'Grafana as 472, PostgreSQL as 999' : 'Grafana as 472',
    /** How Grafana's connection to an external database is protected, for the limits. */
    externalDbLink: runsPostgres ? undefined : `Grafana reaches your database with \`ssl_mode=${sslMode}\`: ${EXTERNAL_SSL[sslMode]}.`,
  };
}

/** The load balancer's configuration, and the script that takes a replica out of its rotation. */
function loadBalancerFiles(t: Topology): GeneratedFile[] {
  const { grafana, loadBalancer } = t;
  const replicas = grafana.replicas.map((r) => r.name);
  const rotation = (template: string, extra: Record<string, unknown>): GeneratedFile => ({
    path: LB_ROTATION_SCRIPT.slice(2),
    mode: 0o755,
    contents: renderTemplate(template, { script: LB_ROTATION_SCRIPT, replicas, lb: loadBalancer.name, ...extra }),
  });
  if (loadBalancer.kind === 'haproxy') {
    const backend = 'grafana';
    return [
      {
        path: 'lb/haproxy.cfg',
        contents: renderTemplate('lb/haproxy.cfg', {
          replicas: grafana.replicas,
          listenPort: loadBalancer.listenPort,
          statusPort: loadBalancer.statusPort,
          runtimeApiPort: HAPROXY_RUNTIME_API_PORT,
          rotationScript: LB_ROTATION_SCRIPT,
          backend,
        }),
      },
      rotation('lb/rotation-haproxy.sh', { runtimeApiPort: HAPROXY_RUNTIME_API_PORT, backend }),
    ];
  }
  return [
    {
      path: 'lb/nginx.conf',
      contents: renderTemplate('lb/nginx.conf', {
        replicas: grafana.replicas,
        listenPort: loadBalancer.listenPort,
        statusPort: loadBalancer.statusPort,
        rotationScript: LB_ROTATION_SCRIPT,
        ...NGINX_PASSIVE_CHECK,
      }),
    },
    rotation('lb/rotation-nginx.sh', { config: 'lb/nginx.conf' }),
  ];
}

export function renderStack(t: Topology): GeneratedFile[] {
  const { secrets } = t;
  return [
    { path: 'compose.yaml', contents: renderCompose(t) },
    { path: 'grafana/grafana.ini', contents: renderGrafanaIni(t) },
    {
      path: GRAFANA_GOSSIP_WRAPPER,
      mode: 0o755,
      contents: renderTemplate('grafana/gossip-address.sh', {
        entrypoint: GRAFANA_IMAGE_ENTRYPOINT,
        network: NETWORKS.app,
        port: t.grafana.replicas[0].gossipPort,
      }),
    },
    ...loadBalancerFiles(t),
    ...databaseFiles(t),
    { path: '.gitignore', contents: renderTemplate('stack/gitignore', { secretsDir: `${SECRETS_DIR}/` }) },
    {
      path: 'README.md',
      contents: renderTemplate('stack/README.md', {
        t,
        db: t.database,
        patroniPackage: t.database.mode === 'patroni' ? patroniAptPackage(t.database.patroni.version) : undefined,
        profiles: FAILOVER_PROFILES,
        users: PATRONI_USERS,
        stopGrace: POSTGRES_STOP_GRACE,
        rotationScript: LB_ROTATION_SCRIPT,
        restartCommands: replicaRestartCommands(t.grafana.replicas[0].name),
        drillsMeasured: DRILLS_MEASURED,
        measuredFailures: MEASURED_FAILURES.filter((row) => t.database.mode === 'patroni' && (t.database.patroni.synchronous || !row.synchronousOnly)),
        secretList: Object.values(secrets),
        ...readmeFacts(t),
      }),
    },
  ];
}
