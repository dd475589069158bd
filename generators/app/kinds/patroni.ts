/**
 * PostgreSQL made highly available in the stack: Patroni nodes (built from the official postgres
 * image plus PGDG's Patroni), an etcd cluster for the leader key, and an HAProxy DB router that
 * sends Grafana to the current primary, following Patroni's REST API.
 */
import { IMAGES, PATRONI_VERSION, patroniAptPackage, PGBACKREST_VERSION, pgbackrestAptPackage, postgresImage } from '../catalog.js';
import { recreate } from '../commands.js';
import { FAILOVER_PROFILES, type PatroniTiming } from '../failover-profiles.js';
import { DRILLS_MEASURED, measuredFailuresFor } from '../measured-failures.js';
import type { Answers } from '../questions.js';
import {
  hardening,
  healthcheck,
  httpProbe,
  limits,
  POSTGRES_STOP_GRACE,
  uses,
  type Services,
  type Volumes,
} from '../render/compose-parts.js';
import { GRAFANA_CONN_MAX_LIFETIME_S } from '../render/grafana-ini.js';
import { renderTemplate } from '../render/templates.js';
import { IN_IMAGE, readOnlyMount, script, secretPath, SECRETS_IN_CONTAINER, STACK_FILES, type GeneratedFile } from '../stack-files.js';
import { NETWORKS } from '../networks.js';
import { SECRETS } from '../secret-specs.js';
import { numbered, type NonEmpty } from '../numbered.js';
import type { Topology } from '../topology.js';
import type { DatabaseModeSpec, ServiceChange } from './database-mode.js';
import type { HandSteps } from './deploy-target.js';
import { haproxyInitAddr, type ServerNames } from './load-balancer.js';
import { MAXIMUM_LAG_ON_FAILOVER, renderPatroniConfig } from './patroni-yaml.js';
import { initSqlFile, postgresData } from './postgres.js';
import {
  BACKUP_FILES,
  backupFiles,
  backupMounts,
  backupRepository,
  clusterReset,
  PGBACKREST_BINARY,
  type BackupRepository,
} from './pgbackrest.js';

/** The files a Patroni stack adds, and where its containers see them. */
export const PATRONI_FILES = {
  dbRouterConfig: { path: 'db-router/haproxy.cfg', inContainer: IN_IMAGE.haproxyConfig },
  /** Run from the stack folder to add one etcd member to the running cluster. */
  etcdAddMember: script('scripts/etcd-add-member.sh'),
  /** Recreates PostgreSQL nodes (image rebuilt) one at a time, the leader last after a switchover: `[NODE...]`. */
  rollingRestart: script('scripts/rolling-restart.sh'),
  /** Rehearses a switchover (`--kill`: a primary kill) under probe writes and reads; prints the outage and lost writes. */
  failoverDrill: script('scripts/failover-drill.sh'),
  /** After a re-run with a new --postgres-major: dump, new empty nodes on the new image, restore. `--yes [--from-dump FILE]`. */
  upgradeMajor: script('scripts/upgrade-postgres-major.sh'),
  /** Every Patroni node's own configuration (patroni/<node>.yml) is mounted here. */
  nodeConfig: { path: 'patroni', inContainer: '/etc/patroni/patroni.yml' },
  /** The Patroni nodes' image: built by `docker compose build` from this folder. */
  image: { path: 'patroni/image' },
  /** SQL creating Grafana's role and database: Patroni's post_bootstrap runs it. */
  initSql: { path: 'patroni/image/create-grafana-db.sql', inContainer: '/usr/local/share/grafana-ha/create-grafana-db.sql' },
} as const;

/** The failover drill's probe table, in the `postgres` database (not Grafana's), dropped after each drill. */
export const FAILOVER_DRILL_TABLE = 'ggha_failover_drill';

/** Where each etcd member's named volume is mounted (the image's own, root-owned 0755 directory). */
const ETCD_DATA_VOLUME = '/var/lib/etcd';

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

export interface PatroniNode {
  name: string;
  postgresPort: number;
  restApiPort: number;
  /** Mounted into the node as /etc/patroni/patroni.yml. */
  configFile: string;
}

/** Patroni + etcd, with HAProxy in front following the leader through Patroni's REST API. */
export interface PatroniCluster {
  mode: 'patroni';
  etcd: {
    members: NonEmpty<EtcdMember>;
    image: string;
    /** Where each member's named volume is mounted, and etcd's data directory (the same for every member). */
    dataVolume: string;
    dataDir: EtcdDataDir;
  };
  patroni: {
    nodes: NonEmpty<PatroniNode>;
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
    /** pgBackRest's repository, or null for a stack without backups. */
    backups: BackupRepository | null;
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

/** The most PostgreSQL nodes a stack can have (the answer's bound). */
export const PATRONI_NODES_MAX = 9;
export const patroniNodeName = (i: number) => `pg-${i}`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const etcdName = (i: number) => `etcd-${i}`;
const etcdPeerUrl = (i: number) => `http://${etcdName(i)}:2380`;
const etcdCluster = (upTo: number) =>
  range(upTo)
    .map((i) => `${etcdName(i)}=${etcdPeerUrl(i)}`)
    .join(',');

function patroniCluster(answers: Answers, history?: StackHistory): PatroniCluster {
  const founders = Math.min(history?.etcdFoundingMembers ?? answers.etcdMembers, answers.etcdMembers);
  const etcdMembers = numbered(answers.etcdMembers, (i): EtcdMember => ({
    name: etcdName(i),
    clientPort: 2379,
    peerPort: 2380,
    peerUrl: etcdPeerUrl(i),
    clientUrl: `http://${etcdName(i)}:2379`,
    initialClusterState: i <= founders ? 'new' : 'existing',
    initialCluster: etcdCluster(Math.max(i, founders)),
  }));
  const nodes = numbered(answers.patroniNodes, (i): PatroniNode => ({
    name: patroniNodeName(i),
    postgresPort: 5432,
    restApiPort: 8008,
    configFile: `${PATRONI_FILES.nodeConfig.path}/${patroniNodeName(i)}.yml`,
  }));
  return {
    mode: 'patroni',
    // A first generation (no history) gets the current layout; an older stack keeps its own, new members too.
    etcd: {
      members: etcdMembers,
      image: IMAGES.etcd,
      dataVolume: ETCD_DATA_VOLUME,
      dataDir: history?.etcdDataDir ?? ETCD_DATA_DIRS.current,
    },
    patroni: {
      nodes,
      timing: FAILOVER_PROFILES[answers.failoverProfile],
      synchronous: answers.synchronousReplication,
      postgresMajor: answers.postgresMajor,
      baseImage: postgresImage(answers.postgresMajor),
      version: PATRONI_VERSION,
      ...postgresData(answers.postgresMajor),
      binDir: `/usr/lib/postgresql/${answers.postgresMajor}/bin`,
      backups: backupRepository(answers, postgresData(answers.postgresMajor).dataVolume),
    },
    dbRouter: { name: 'db-router', primaryPort: 5432, replicaPort: 5433, statusPort: 8404, image: IMAGES.haproxy },
  };
}

function services(t: Topology, db: PatroniCluster, volumes: Volumes): Services {
  const { etcd, patroni, dbRouter } = db;
  const { secrets } = t;
  const out: Services = {};
  for (const member of etcd.members) {
    volumes[`${member.name}-data`] = {};
    out[member.name] = {
      image: etcd.image,
      volumes: [`${member.name}-data:${etcd.dataVolume}`],
      environment: {
        ETCD_NAME: member.name,
        ETCD_DATA_DIR: etcd.dataDir,
        ETCD_LISTEN_CLIENT_URLS: `http://0.0.0.0:${member.clientPort}`,
        ETCD_ADVERTISE_CLIENT_URLS: member.clientUrl,
        ETCD_LISTEN_PEER_URLS: `http://0.0.0.0:${member.peerPort}`,
        ETCD_INITIAL_ADVERTISE_PEER_URLS: member.peerUrl,
        ETCD_INITIAL_CLUSTER: member.initialCluster,
        ETCD_INITIAL_CLUSTER_STATE: member.initialClusterState,
        ETCD_INITIAL_CLUSTER_TOKEN: t.project,
        // Without compaction Patroni's frequent key updates fill etcd's 2 GiB quota
        // (NOSPACE alarm: no leader key, the primary demotes itself).
        ETCD_AUTO_COMPACTION_MODE: 'revision',
        ETCD_AUTO_COMPACTION_RETENTION: '1000',
      },
      networks: [NETWORKS.db],
      restart: 'unless-stopped',
      // The etcd image is distroless: no shell, but etcdctl is there.
      healthcheck: healthcheck(['CMD', 'etcdctl', `--endpoints=http://127.0.0.1:${member.clientPort}`, 'endpoint', 'health']),
      ...hardening(),
      ...limits('256m'),
    };
  }

  const { backups } = patroni;
  if (backups) volumes[backups.volume] = {};
  for (const node of patroni.nodes) {
    volumes[`${node.name}-data`] = {};
    out[node.name] = {
      build: { context: `./${PATRONI_FILES.image.path}` },
      depends_on: Object.fromEntries(etcd.members.map((m) => [m.name, { condition: 'service_healthy' }])),
      volumes: [
        `${node.name}-data:${patroni.dataVolume}`,
        readOnlyMount({ path: node.configFile, inContainer: PATRONI_FILES.nodeConfig.inContainer }),
        ...(backups ? backupMounts(backups) : []),
      ],
      secrets: uses(
        secrets.postgresSuperuser,
        secrets.postgresReplication,
        secrets.patroniRestApi,
        secrets.grafanaDb,
        backups ? secrets.pgbackrestCipher : undefined,
      ),
      networks: [NETWORKS.db],
      restart: 'unless-stopped',
      healthcheck: healthcheck(['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${node.restApiPort}/health`], '120s'),
      // The image runs Patroni and PostgreSQL as postgres (its USER line): no capability needed.
      ...hardening(),
      ...limits('1g'),
      shm_size: '256m',
      // SIGTERM reaches Patroni itself (the entrypoint execs it): it stops PostgreSQL and hands over the leader key.
      stop_grace_period: POSTGRES_STOP_GRACE,
      stop_signal: 'SIGTERM',
    };
  }

  out[dbRouter.name] = {
    image: dbRouter.image,
    // Started, not healthy: the router follows whichever node Patroni makes primary.
    depends_on: Object.fromEntries(patroni.nodes.map((n) => [n.name, { condition: 'service_started' }])),
    volumes: [readOnlyMount(PATRONI_FILES.dbRouterConfig)],
    networks: [NETWORKS.app, NETWORKS.db],
    restart: 'unless-stopped',
    // Healthy only while exactly one primary is routable.
    healthcheck: healthcheck(httpProbe(dbRouter.statusPort, '/primary-ready'), '120s'),
    ...hardening(),
    ...limits('128m'),
  };
  return out;
}

/** The DB router's configuration, routing to the nodes named (a name that does not resolve yet stays in MAINT). */
export function dbRouterConfig(db: PatroniCluster, nodes: string[], names: ServerNames = 'exist'): GeneratedFile {
  const { patroni, dbRouter } = db;
  return {
    path: PATRONI_FILES.dbRouterConfig.path,
    contents: renderTemplate('db-router/haproxy.cfg', {
      nodes,
      postgresPort: patroni.nodes[0].postgresPort,
      restApiPort: patroni.nodes[0].restApiPort,
      primaryPort: dbRouter.primaryPort,
      replicaPort: dbRouter.replicaPort,
      statusPort: dbRouter.statusPort,
      grafanaConnMaxLifetime: GRAFANA_CONN_MAX_LIFETIME_S,
      initAddr: haproxyInitAddr(names),
    }),
  };
}

/**
 * A wrapper on PATH that runs one of the image's tools with the secrets loaded. `why` ends its
 * comment (patronictl's is worded as before the wrapper was shared: an existing stack's image files
 * stay byte for byte, so a re-run plans no rebuild of its nodes).
 */
const secretsWrapper = (path: string, tool: string, binary: string, why: string): GeneratedFile => ({
  path,
  mode: 0o755,
  contents: renderTemplate('patroni/secrets-wrapper.sh', { tool, binary, why, withSecrets: IN_IMAGE.withSecrets }),
});

function files(t: Topology, db: PatroniCluster): GeneratedFile[] {
  const { patroni, etcd } = db;
  const { backups } = patroni;
  const image = PATRONI_FILES.image.path;
  return [
    dbRouterConfig(
      db,
      patroni.nodes.map((n) => n.name),
    ),
    ...patroni.nodes.map((node) => ({ path: node.configFile, contents: renderPatroniConfig(t, db, node) })),
    {
      path: `${image}/Dockerfile`,
      contents: renderTemplate('patroni/Dockerfile', {
        baseImage: patroni.baseImage,
        patroniPackage: patroniAptPackage(patroni.version),
        patronictl: IN_IMAGE.patronictl,
        dataVolume: patroni.dataVolume,
        withSecrets: IN_IMAGE.withSecrets,
        postBootstrap: IN_IMAGE.postBootstrap,
        initSql: PATRONI_FILES.initSql.inContainer,
        configFile: PATRONI_FILES.nodeConfig.inContainer,
        backups: backups && {
          package: pgbackrestAptPackage(PGBACKREST_VERSION),
          repoPath: backups.path,
          wrapper: BACKUP_FILES.wrapper.inContainer,
          restoreCommand: BACKUP_FILES.restoreCommand.inContainer,
          afterPromotion: BACKUP_FILES.afterPromotion.inContainer,
        },
      }),
    },
    secretsWrapper(
      `${image}/patronictl.sh`,
      'patronictl',
      IN_IMAGE.patronictl,
      'load the REST API password\n# first, or patronictl cannot talk to Patroni.',
    ),
    ...(backups
      ? [
          secretsWrapper(
            BACKUP_FILES.wrapper.path,
            'pgbackrest',
            PGBACKREST_BINARY,
            "load the repository's key\n# first, or pgbackrest cannot read the backups.",
          ),
          ...backupFiles(t, db, backups, PATRONI_FILES.upgradeMajor.path),
        ]
      : []),
    {
      path: `${image}/with-secrets.sh`,
      mode: 0o755,
      contents: renderTemplate('patroni/with-secrets.sh', {
        secretsDir: SECRETS_IN_CONTAINER,
        secretVariables: [
          { variable: 'PATRONI_SUPERUSER_PASSWORD', secret: SECRETS.postgresSuperuser.name },
          { variable: 'PATRONI_REPLICATION_PASSWORD', secret: SECRETS.postgresReplication.name },
          { variable: 'PATRONI_RESTAPI_PASSWORD', secret: SECRETS.patroniRestApi.name },
          // pgBackRest reads any option from PGBACKREST_<OPTION>: the key stays out of pgbackrest.conf.
          ...(backups ? [{ variable: 'PGBACKREST_REPO1_CIPHER_PASS', secret: SECRETS.pgbackrestCipher.name }] : []),
        ],
      }),
    },
    {
      path: `${image}/post-bootstrap.sh`,
      mode: 0o755,
      contents: renderTemplate('patroni/post-bootstrap.sh', { sqlFile: PATRONI_FILES.initSql.inContainer, stanza: backups?.stanza }),
    },
    initSqlFile(t, PATRONI_FILES.initSql.path),
    {
      path: PATRONI_FILES.rollingRestart.path,
      mode: 0o755,
      contents: renderTemplate('patroni/rolling-restart.sh', {
        script: PATRONI_FILES.rollingRestart.command,
        nodes: patroni.nodes.map((n) => n.name),
        restApiPort: patroni.nodes[0].restApiPort,
        synchronous: patroni.synchronous,
        maxLag: MAXIMUM_LAG_ON_FAILOVER,
      }),
    },
    {
      path: PATRONI_FILES.failoverDrill.path,
      mode: 0o755,
      contents: renderTemplate('patroni/failover-drill.sh', {
        script: PATRONI_FILES.failoverDrill.command,
        nodes: patroni.nodes.map((n) => n.name),
        restApiPort: patroni.nodes[0].restApiPort,
        router: db.dbRouter.name,
        routerPort: db.dbRouter.primaryPort,
        lbPort: t.loadBalancer.publishedPort,
        superuserSecret: secretPath(SECRETS.postgresSuperuser),
        table: FAILOVER_DRILL_TABLE,
      }),
    },
    {
      path: PATRONI_FILES.upgradeMajor.path,
      mode: 0o755,
      contents: renderTemplate('patroni/upgrade-postgres-major.sh', {
        script: PATRONI_FILES.upgradeMajor.command,
        major: patroni.postgresMajor,
        ...clusterReset(t, db),
        restApiPort: patroni.nodes[0].restApiPort,
        grafana: t.grafana.replicas.map((r) => r.name),
        database: t.grafana.database.name,
        role: t.grafana.database.user,
        dumpsDir: STACK_FILES.dumps.path,
        initSql: PATRONI_FILES.initSql.inContainer,
        backups: backups
          ? { override: BACKUP_FILES.upgradeOverride.path, stanza: backups.stanza, backupScript: BACKUP_FILES.backup.command }
          : null,
      }),
    },
    {
      path: PATRONI_FILES.etcdAddMember.path,
      mode: 0o755,
      contents: renderTemplate('stack/etcd-add-member.sh', {
        script: PATRONI_FILES.etcdAddMember.command,
        members: etcd.members.map((m) => m.name),
        peerPort: etcd.members[0].peerPort,
      }),
    },
  ];
}

/** `a`, `a and b`, `a, b and c`. */
const listed = (items: string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`);

/** The image sets PATRONICTL_CONFIG_FILE to the node's config: no -c needed. */
const patronictl = (db: PatroniCluster) => `docker compose exec ${db.patroni.nodes[0].name} patronictl`;

/** Shrinking needs hand work first: never the leader blindly, never an etcd member without `member remove`. */
function refusals(was: Answers, now: Answers, db: PatroniCluster, hands: HandSteps): string[] {
  const out: string[] = [];
  const firstNode = db.patroni.nodes[0].name;
  if (now.patroniNodes < was.patroniNodes) {
    const gone = db.patroni.nodes.slice(now.patroniNodes).map((n) => n.name);
    out.push(
      `--patroni-nodes ${was.patroniNodes} → ${now.patroniNodes}: remove ${gone.join(', ')} by hand first, never the leader blindly: ` +
        `check ${hands.inService(firstNode, 'patronictl list')}; if one of them is the leader, ${hands.inService(firstNode, `patronictl switchover --candidate ${firstNode} --force`)}; ` +
        `then ${hands.remove(gone)}. Then re-run with --force.`,
    );
  }
  if (now.etcdMembers < was.etcdMembers) {
    const gone = db.etcd.members.slice(now.etcdMembers).map((m) => m.name);
    const via = db.etcd.members[0].name;
    out.push(
      `--etcd-members ${was.etcdMembers} → ${now.etcdMembers}: remove ${gone.join(', ')} from the cluster by hand first, one at a time: ` +
        `${hands.inService(via, 'etcdctl member list')}, ${hands.inService(via, 'etcdctl member remove <ID>')}, then ${hands.remove(['<member>'])}. Then re-run with --force.`,
    );
  }
  return out;
}

/** bootstrap.dcs settings: written into the YAML, but a running cluster keeps its own copy in etcd. */
function dcsSettings(was: Answers, now: Answers, db: PatroniCluster): string[] {
  const settings: string[] = [];
  if (was.synchronousReplication !== now.synchronousReplication) settings.push(`-s synchronous_mode=${db.patroni.synchronous}`);
  if (was.failoverProfile !== now.failoverProfile) {
    const t = db.patroni.timing;
    settings.push(`-s ttl=${t.ttl}`, `-s loop_wait=${t.loopWait}`, `-s retry_timeout=${t.retryTimeout}`);
  }
  return settings;
}

function inClusterSteps(was: Answers, after: Topology, db: PatroniCluster, change: ServiceChange): string[] {
  const dcs = dcsSettings(was, after.answers, db);
  return [
    ...db.etcd.members
      .filter((m) => change.isNew(m.name))
      .map((m) => `\`etcdctl member add ${m.name} --peer-urls=http://${m.name}:${m.peerPort}\` before ${m.name} starts`),
    ...(dcs.length > 0 ? [`\`patronictl edit-config --force ${dcs.join(' ')}\` (Patroni keeps these settings in etcd)`] : []),
  ];
}

function planCommands(was: Answers, after: Topology, db: PatroniCluster, change: ServiceChange, notes: string[]): string[] {
  const { isNew, redefined, fileChanged } = change;
  const commands: string[] = [];
  // 1. etcd first, one member at a time: new ones announced then started, changed ones recreated (quorum holds).
  for (const member of db.etcd.members) {
    if (isNew(member.name)) commands.push(`${PATRONI_FILES.etcdAddMember.command} ${member.name}`);
    else if (redefined(member.name)) commands.push(recreate(member.name));
  }

  // 2. New PostgreSQL nodes clone the current primary (pg_basebackup) on their first start.
  const newNodes = db.patroni.nodes.filter((n) => isNew(n.name)).map((n) => n.name);
  // Not --no-deps: their dependencies are etcd members only (already started), and Compose 2.26–2.29
  // labels a --no-deps container with another config hash, which the next plain `up` recreates.
  if (newNodes.length > 0) commands.push(`docker compose up -d --build ${newNodes.join(' ')}`);
  // A changed image (a new PostgreSQL minor or Patroni release) rebuilds every node; a changed definition, those nodes.
  const imageChanged = files(after, db).some((f) => f.path.startsWith(`${PATRONI_FILES.image.path}/`) && fileChanged(f.path));
  const recreatedNodes = db.patroni.nodes.filter((n) => !isNew(n.name) && (imageChanged || redefined(n.name))).map((n) => n.name);
  if (recreatedNodes.length > 0) {
    notes.push(
      `${recreatedNodes.join(', ')} are recreated one at a time, the leader last after a switchover (writes stop for about two seconds).`,
    );
    const all = recreatedNodes.length === db.patroni.nodes.length;
    commands.push(all ? PATRONI_FILES.rollingRestart.command : `${PATRONI_FILES.rollingRestart.command} ${recreatedNodes.join(' ')}`);
  }
  // The nodes were recreated with the repository: its stanza, and a first backup for new replicas and PITR.
  if (was.backups === 'none' && db.patroni.backups) commands.push(`${BACKUP_FILES.backup.command} full`);
  const keptNodes = db.patroni.nodes.filter((n) => !isNew(n.name) && !recreatedNodes.includes(n.name));
  if (keptNodes.some((n) => fileChanged(n.configFile))) commands.push(`${patronictl(db)} reload ${after.project} --force`);
  const dcs = dcsSettings(was, after.answers, db);
  if (dcs.length > 0) {
    commands.push(`${patronictl(db)} edit-config --force ${dcs.join(' ')}`);
    notes.push('Patroni keeps bootstrap.dcs settings in etcd after the first start: the edit-config command applies them.');
  }

  // 3. HAProxy re-reads its configuration on SIGUSR2 (master-worker mode); open connections stay.
  if (redefined(db.dbRouter.name)) commands.push(recreate(db.dbRouter.name));
  else if (fileChanged(PATRONI_FILES.dbRouterConfig.path)) commands.push(`docker compose kill -s USR2 ${db.dbRouter.name}`);
  return commands;
}

function warnings(a: Answers): string[] {
  const out: string[] = [];
  if (a.backups === 'none') {
    out.push(
      a.deployTarget === 'swarm'
        ? 'No backups: on Swarm this stack cannot keep them yet (they need a repository every host reaches). A dropped table or lost volumes cannot be recovered.'
        : 'No backups (--backups none): a dropped table or lost volumes cannot be recovered. Re-run with --backups volume to turn them on.',
    );
  }
  if (a.etcdMembers === 1) out.push('1 etcd member is a single point of failure: if it stops, Patroni demotes the primary.');
  if (a.synchronousReplication && a.patroniNodes === 2) {
    out.push(
      'Synchronous replication with 2 nodes: while the replica is down the primary keeps accepting writes unprotected (synchronous_mode_strict is off to stay available).',
    );
  }
  return out;
}

export const patroni: DatabaseModeSpec<PatroniCluster> = {
  summary: 'PostgreSQL HA with Patroni + etcd',
  choiceHelp: 'PostgreSQL HA in the stack: Patroni, etcd and a DB router',
  asks: ['patroniNodes', 'etcdMembers', 'synchronousReplication', 'postgresMajor', 'failoverProfile', 'backups'],
  secrets: (answers) => [
    'postgresSuperuser',
    'postgresReplication',
    'patroniRestApi',
    'grafanaDb',
    'grafanaSecretKey',
    'grafanaAdmin',
    ...(answers.backups === 'none' ? [] : (['pgbackrestCipher'] as const)),
  ],
  topology: patroniCluster,
  grafanaEndpoint: (answers, db) => ({
    host: db.dbRouter.name,
    port: db.dbRouter.primaryPort,
    name: answers.dbName,
    user: answers.dbUser,
    sslMode: 'disable',
  }),
  serviceNames: (db) => [...db.etcd.members.map((m) => m.name), ...db.patroni.nodes.map((n) => n.name), db.dbRouter.name],
  services,
  hostBound: (db) => ({
    ...Object.fromEntries(db.etcd.members.map((m) => [m.name, 'etcd' as const])),
    ...Object.fromEntries(db.patroni.nodes.map((n) => [n.name, 'postgres' as const])),
  }),
  livenessChecks: (db) => ({
    // etcd answers no client request, health included, before it has a quorum, and its peers find it
    // by a DNS name Swarm lists only once it is healthy: no check, the restart policy covers an exit.
    ...Object.fromEntries(db.etcd.members.map((m) => [m.name, null])),
    // /liveness: Patroni's loop runs. /health would fail during a long clone or recovery, and Swarm would kill it.
    ...Object.fromEntries(
      db.patroni.nodes.map((n) => [n.name, ['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${n.restApiPort}/liveness`]]),
    ),
    // HAProxy answers: during a failover there is no primary for a while, which is no reason to kill the router.
    [db.dbRouter.name]: httpProbe(db.dbRouter.statusPort, '/stats'),
  }),
  grafanaDependsOn: (db) => ({ [db.dbRouter.name]: { condition: 'service_healthy' } }),
  majorUpgradeCommand: `${PATRONI_FILES.upgradeMajor.command} --yes`,
  restorePointCommand: (db) => (db.patroni.backups ? `${BACKUP_FILES.backup.command} incr` : undefined),
  usesDbNetwork: true,
  files,
  warnings,
  runsPostgres: true,
  title: (oneReplica) => (oneReplica ? 'one Grafana replica on highly available PostgreSQL (Grafana not HA)' : 'highly available Grafana'),
  readme: {
    services: 'readme/services-patroni.md.ejs',
    health: 'readme/health-patroni.md.ejs',
    database: 'readme/database-patroni.md.ejs',
    image: 'readme/image-patroni.md.ejs',
    backups: 'readme/backups-patroni.md.ejs',
    growing: {
      options: '--patroni-nodes 4 --etcd-members 5',
      steps: 'readme/growing-patroni.md.ejs',
      shrinking: 'readme/shrinking-patroni.md.ejs',
    },
  },
  readmeFacts: (db) => ({
    patroniFiles: PATRONI_FILES,
    patroniPackage: patroniAptPackage(db.patroni.version),
    etcdSinglePoint: db.etcd.members.length === 1,
    profiles: FAILOVER_PROFILES,
    stopGrace: POSTGRES_STOP_GRACE,
    drillsMeasured: DRILLS_MEASURED,
    measuredFailures: measuredFailuresFor(db.patroni.synchronous),
    backups: db.patroni.backups,
    backupFiles: BACKUP_FILES,
    cipherFile: SECRETS.pgbackrestCipher.file,
    nodeList: listed(db.patroni.nodes.map((n) => `\`${n.name}\``)),
    firstNode: db.patroni.nodes[0].name,
    routerName: db.dbRouter.name,
  }),
  arrivingFrom: {
    single:
      'the Patroni cluster starts empty: dump the single server (pg_dump), re-run with --force, start only the database (`docker compose up -d --wait db-router`), restore the dump through the DB router, then start the rest (README.md has the commands).',
  },
  refusals,
  inClusterSteps,
  planCommands,
};
