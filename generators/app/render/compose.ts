/**
 * compose.yaml as a plain object, dumped with js-yaml. Compose Specification:
 * no `version:`, no `container_name` (it blocks scaling and re-creation).
 */
import { dump } from 'js-yaml';
import {
  NETWORKS,
  type DatabaseTopology,
  type PatroniCluster,
  type SecretSpec,
  type SinglePostgres,
  type Topology,
} from '../topology.js';
import {
  GRAFANA_DB_CA_IN_CONTAINER,
  GRAFANA_GOSSIP_WRAPPER,
  GRAFANA_GOSSIP_WRAPPER_IN_CONTAINER,
  GRAFANA_INI_IN_CONTAINER,
  HAPROXY_CFG_IN_CONTAINER,
  NGINX_CONF_IN_CONTAINER,
  PATRONI_CONFIG_IN_CONTAINER,
  secretPath,
  SINGLE_INIT_SQL,
} from './paths.js';

/**
 * Enough for PostgreSQL to checkpoint and stop, and for Patroni to release the
 * leader key first (Docker's default of 10 s would turn a clean stop into a full-ttl failover).
 */
export const POSTGRES_STOP_GRACE = '60s';

/** Every service: no capability, unless `add` names the few its image's entrypoint needs (and says why). */
const hardening = (add?: string[]) => ({ ...(add ? { cap_add: add } : {}), cap_drop: ['ALL'] });

/**
 * The official postgres image's entrypoint starts as root: it creates and chmods the data and socket
 * directories, chowns them to postgres, then steps down to postgres with gosu.
 */
export const POSTGRES_ENTRYPOINT_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'];

/** Every service: a memory limit and no privilege escalation (the last keys in dclint's order). */
const limits = (memory: string) => ({
  deploy: { resources: { limits: { memory } } },
  security_opt: ['no-new-privileges:true'],
});

/**
 * An HTTP probe for images without curl/wget (HAProxy, nginx, PostgreSQL are
 * Debian-based and have bash): 0 only on an HTTP 200 status line.
 */
export function httpProbe(port: number, path: string): string[] {
  const script =
    `exec 3<>/dev/tcp/127.0.0.1/${port} && ` +
    `printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && ` +
    `head -n 1 <&3 | grep -q ' 200 '`;
  return ['CMD', 'bash', '-c', script];
}

const healthcheck = (test: string[], startPeriod = '30s') => ({
  test,
  interval: '5s',
  timeout: '3s',
  retries: 5,
  start_period: startPeriod,
});

const uses = (...secrets: (SecretSpec | undefined)[]) => secrets.filter((s) => s !== undefined).map((s) => s.name);

type Services = Record<string, unknown>;
type Volumes = Record<string, Record<string, never>>;

/** Keys in each service follow the conventional order (dclint's service-keys-order). */
function patroniServices(t: Topology, db: PatroniCluster, volumes: Volumes): Services {
  const { etcd, patroni, dbRouter } = db;
  const { secrets } = t;
  const services: Services = {};
  for (const member of etcd.members) {
    volumes[`${member.name}-data`] = {};
    services[member.name] = {
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

  for (const node of patroni.nodes) {
    volumes[`${node.name}-data`] = {};
    services[node.name] = {
      build: { context: './patroni/image' },
      depends_on: Object.fromEntries(etcd.members.map((m) => [m.name, { condition: 'service_healthy' }])),
      volumes: [`${node.name}-data:${patroni.dataVolume}`, `./${node.configFile}:${PATRONI_CONFIG_IN_CONTAINER}:ro`],
      secrets: uses(secrets.postgresSuperuser, secrets.postgresReplication, secrets.patroniRestApi, secrets.grafanaDb),
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

  services[dbRouter.name] = {
    image: dbRouter.image,
    // Started, not healthy: the router follows whichever node Patroni makes primary.
    depends_on: Object.fromEntries(patroni.nodes.map((n) => [n.name, { condition: 'service_started' }])),
    volumes: [`./db-router/haproxy.cfg:${HAPROXY_CFG_IN_CONTAINER}:ro`],
    networks: [NETWORKS.app, NETWORKS.db],
    restart: 'unless-stopped',
    // Healthy only while exactly one primary is routable.
    healthcheck: healthcheck(httpProbe(dbRouter.statusPort, '/primary-ready'), '120s'),
    ...hardening(),
    ...limits('128m'),
  };
  return services;
}

function singlePostgresService(t: Topology, db: SinglePostgres, volumes: Volumes): Services {
  const { server } = db;
  volumes[`${server.name}-data`] = {};
  return {
    [server.name]: {
      image: server.image,
      volumes: [
        `${server.name}-data:${server.dataVolume}`,
        `./${SINGLE_INIT_SQL}:/docker-entrypoint-initdb.d/create-grafana-db.sql:ro`,
      ],
      secrets: uses(t.secrets.postgresSuperuser, t.secrets.grafanaDb),
      environment: {
        // The official image reads *_FILE variables itself.
        POSTGRES_PASSWORD_FILE: secretPath(t.secrets.postgresSuperuser!),
        POSTGRES_INITDB_ARGS: '--data-checksums --auth-host=scram-sha-256',
      },
      networks: [NETWORKS.app],
      restart: 'unless-stopped',
      healthcheck: healthcheck(['CMD', 'pg_isready', '-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres'], '60s'),
      // Root-started entrypoint (chown/chmod of its directories, then gosu to postgres): only what that needs.
      ...hardening(POSTGRES_ENTRYPOINT_CAPS),
      ...limits('1g'),
      shm_size: '256m',
      stop_grace_period: POSTGRES_STOP_GRACE,
    },
  };
}

/** What Grafana waits for before starting, per database mode. */
function grafanaDependsOn(db: DatabaseTopology) {
  switch (db.mode) {
    case 'patroni':
      return { depends_on: { [db.dbRouter.name]: { condition: 'service_healthy' } } };
    case 'single':
      return { depends_on: { [db.server.name]: { condition: 'service_healthy' } } };
    case 'external':
      return {};
  }
}

export function composeObject(t: Topology) {
  const { database, grafana, loadBalancer, secrets } = t;
  const volumes: Volumes = {};
  const services: Services =
    database.mode === 'patroni'
      ? patroniServices(t, database, volumes)
      : database.mode === 'single'
        ? singlePostgresService(t, database, volumes)
        : {};
  // An external database is reached through `edge`, the one network with a way out; the alerting
  // gossip stays on the internal `app`, where each replica has a name of its own.
  const caCert = grafana.database.caCert;

  for (const replica of grafana.replicas) {
    volumes[`${replica.name}-data`] = {};
    services[replica.name] = {
      image: grafana.image,
      ...grafanaDependsOn(database),
      volumes: [
        `${replica.name}-data:/var/lib/grafana`,
        `./grafana/grafana.ini:${GRAFANA_INI_IN_CONTAINER}:ro`,
        `./${GRAFANA_GOSSIP_WRAPPER}:${GRAFANA_GOSSIP_WRAPPER_IN_CONTAINER}:ro`,
        ...(caCert ? [`./${caCert.file}:${GRAFANA_DB_CA_IN_CONTAINER}:ro`] : []),
      ],
      secrets: uses(secrets.grafanaDb, secrets.grafanaSecretKey, secrets.grafanaAdmin),
      environment: { GOSSIP_HOST: replica.gossipHost },
      networks: { [NETWORKS.edge]: {}, [NETWORKS.app]: { aliases: [replica.gossipHost] } },
      entrypoint: ['/bin/sh', GRAFANA_GOSSIP_WRAPPER_IN_CONTAINER],
      restart: 'unless-stopped',
      healthcheck: healthcheck(['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${replica.httpPort}/api/health`], '120s'),
      ...hardening(),
      ...limits('512m'),
    };
  }

  const lbConfig =
    loadBalancer.kind === 'haproxy'
      ? `./lb/haproxy.cfg:${HAPROXY_CFG_IN_CONTAINER}:ro`
      : `./lb/nginx.conf:${NGINX_CONF_IN_CONTAINER}:ro`;
  services[loadBalancer.name] = {
    image: loadBalancer.image,
    // Started, not healthy: one broken replica must not keep the load balancer down; its own checks skip it.
    depends_on: Object.fromEntries(grafana.replicas.map((r) => [r.name, { condition: 'service_started' }])),
    volumes: [lbConfig],
    // The only published port of the stack, on every host interface as a public entry point should be.
    ports: [{ target: loadBalancer.listenPort, published: String(loadBalancer.publishedPort), host_ip: '0.0.0.0', protocol: 'tcp' }],
    networks: [NETWORKS.edge],
    restart: 'unless-stopped',
    healthcheck: healthcheck(httpProbe(loadBalancer.statusPort, '/healthz'), '10s'),
    ...hardening(),
    ...limits('128m'),
  };

  const networks: Record<string, { internal?: boolean }> = { [NETWORKS.edge]: {} };
  networks[NETWORKS.app] = { internal: true };
  if (database.mode === 'patroni') networks[NETWORKS.db] = { internal: true };

  return {
    name: t.project,
    services,
    networks,
    volumes,
    secrets: Object.fromEntries(Object.values(secrets).map((s) => [s.name, { file: `./${s.file}` }])),
  };
}

/** Whether the stack has an image to build (`docker compose build`): only the Patroni nodes' image. */
export const buildsImages = (t: Topology) => Object.values(composeObject(t).services).some((s) => 'build' in (s as object));

export const renderCompose = (t: Topology) => dump(composeObject(t), { noRefs: true, lineWidth: -1 });
