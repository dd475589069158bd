/**
 * compose.yaml as a plain object, dumped with js-yaml. Compose Specification:
 * no `version:`, no `container_name` (it blocks scaling and re-creation).
 */
import { dump } from 'js-yaml';
import { NETWORKS, type SecretSpec, type Topology } from '../topology.js';
import {
  GRAFANA_INI_IN_CONTAINER,
  HAPROXY_CFG_IN_CONTAINER,
  NGINX_CONF_IN_CONTAINER,
  PATRONI_CONFIG_IN_CONTAINER,
} from './paths.js';

/** Enough for Patroni to checkpoint, stop PostgreSQL and release the leader key (Docker's default is 10 s). */
export const PATRONI_STOP_GRACE = '60s';

const hardening = {
  security_opt: ['no-new-privileges:true'],
  cap_drop: ['ALL'],
};

const memoryLimit = (limit: string) => ({ deploy: { resources: { limits: { memory: limit } } } });

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

const uses = (...secrets: SecretSpec[]) => secrets.map((s) => s.name);

export function composeObject(t: Topology) {
  const { etcd, patroni, dbRouter, grafana, loadBalancer, secrets } = t;
  const services: Record<string, unknown> = {};
  const volumes: Record<string, Record<string, never>> = {};
  const initialCluster = etcd.members.map((m) => `${m.name}=${m.peerUrl}`).join(',');

  for (const member of etcd.members) {
    volumes[`${member.name}-data`] = {};
    services[member.name] = {
      image: etcd.image,
      restart: 'unless-stopped',
      environment: {
        ETCD_NAME: member.name,
        ETCD_DATA_DIR: '/var/lib/etcd',
        ETCD_LISTEN_CLIENT_URLS: `http://0.0.0.0:${member.clientPort}`,
        ETCD_ADVERTISE_CLIENT_URLS: member.clientUrl,
        ETCD_LISTEN_PEER_URLS: `http://0.0.0.0:${member.peerPort}`,
        ETCD_INITIAL_ADVERTISE_PEER_URLS: member.peerUrl,
        ETCD_INITIAL_CLUSTER: initialCluster,
        ETCD_INITIAL_CLUSTER_STATE: 'new',
        ETCD_INITIAL_CLUSTER_TOKEN: t.project,
      },
      volumes: [`${member.name}-data:/var/lib/etcd`],
      networks: [NETWORKS.db],
      // The etcd image is distroless: no shell, but etcdctl is there.
      healthcheck: healthcheck(['CMD', 'etcdctl', '--endpoints=http://127.0.0.1:2379', 'endpoint', 'health']),
      ...hardening,
      ...memoryLimit('256m'),
    };
  }

  for (const node of patroni.nodes) {
    volumes[`${node.name}-data`] = {};
    services[node.name] = {
      build: { context: './patroni/image' },
      image: `${t.project}/patroni:pg${patroni.postgresMajor}`,
      restart: 'unless-stopped',
      // SIGTERM goes straight to Patroni (the entrypoint execs it), which stops PostgreSQL and hands over the leader key.
      stop_signal: 'SIGTERM',
      stop_grace_period: PATRONI_STOP_GRACE,
      shm_size: '256m',
      volumes: [`${node.name}-data:/var/lib/postgresql/data`, `./${node.configFile}:${PATRONI_CONFIG_IN_CONTAINER}:ro`],
      secrets: uses(secrets.postgresSuperuser, secrets.postgresReplication, secrets.patroniRestApi, secrets.grafanaDb),
      networks: [NETWORKS.db],
      depends_on: Object.fromEntries(etcd.members.map((m) => [m.name, { condition: 'service_healthy' }])),
      healthcheck: healthcheck(['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${node.restApiPort}/health`], '120s'),
      security_opt: hardening.security_opt,
      ...memoryLimit('1g'),
    };
  }

  services[dbRouter.name] = {
    image: dbRouter.image,
    restart: 'unless-stopped',
    volumes: [`./db-router/haproxy.cfg:${HAPROXY_CFG_IN_CONTAINER}:ro`],
    networks: [NETWORKS.app, NETWORKS.db],
    // Started, not healthy: the router follows whichever node Patroni makes primary.
    depends_on: Object.fromEntries(patroni.nodes.map((n) => [n.name, { condition: 'service_started' }])),
    // Healthy only while exactly one primary is routable.
    healthcheck: healthcheck(httpProbe(dbRouter.statusPort, '/primary-ready'), '120s'),
    ...hardening,
    ...memoryLimit('128m'),
  };

  for (const replica of grafana.replicas) {
    volumes[`${replica.name}-data`] = {};
    services[replica.name] = {
      image: grafana.image,
      restart: 'unless-stopped',
      volumes: [`${replica.name}-data:/var/lib/grafana`, `./grafana/grafana.ini:${GRAFANA_INI_IN_CONTAINER}:ro`],
      secrets: uses(secrets.grafanaDb, secrets.grafanaSecretKey, secrets.grafanaAdmin),
      networks: [NETWORKS.edge, NETWORKS.app],
      depends_on: { [dbRouter.name]: { condition: 'service_healthy' } },
      healthcheck: healthcheck(['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${replica.httpPort}/api/health`], '120s'),
      ...hardening,
      ...memoryLimit('512m'),
    };
  }

  const lbConfig =
    loadBalancer.kind === 'haproxy'
      ? `./lb/haproxy.cfg:${HAPROXY_CFG_IN_CONTAINER}:ro`
      : `./lb/nginx.conf:${NGINX_CONF_IN_CONTAINER}:ro`;
  services[loadBalancer.name] = {
    image: loadBalancer.image,
    restart: 'unless-stopped',
    ports: [`${loadBalancer.publishedPort}:${loadBalancer.listenPort}`],
    volumes: [lbConfig],
    networks: [NETWORKS.edge],
    // Started, not healthy: one broken replica must not keep the load balancer down; its own checks skip it.
    depends_on: Object.fromEntries(grafana.replicas.map((r) => [r.name, { condition: 'service_started' }])),
    healthcheck: healthcheck(httpProbe(loadBalancer.statusPort, '/healthz'), '10s'),
    ...hardening,
    ...memoryLimit('128m'),
  };

  return {
    name: t.project,
    services,
    networks: {
      [NETWORKS.edge]: {},
      [NETWORKS.app]: { internal: true },
      [NETWORKS.db]: { internal: true },
    },
    volumes,
    secrets: Object.fromEntries(Object.values(secrets).map((s) => [s.name, { file: `./${s.file}` }])),
  };
}

export const renderCompose = (t: Topology) => dump(composeObject(t), { noRefs: true, lineWidth: -1 });
