/**
 * Step 3 of the pipeline: topology → every file of the stack, as data.
 * Pure: no disk writes, no secrets (files only name where secrets live).
 */
import { FAILOVER_PROFILES } from '../failover-profiles.js';
import { SECRETS_DIR, type Topology } from '../topology.js';
import { renderCompose, PATRONI_STOP_GRACE } from './compose.js';
import { GRAFANA_CONN_MAX_LIFETIME_S, renderGrafanaIni } from './grafana-ini.js';
import { PATRONI_USERS, POST_BOOTSTRAP_IN_CONTAINER, renderPatroniConfig } from './patroni.js';
import { ETCD_ADD_MEMBER_SCRIPT, PATRONI_CONFIG_IN_CONTAINER, secretPath } from './paths.js';
import { renderTemplate } from './templates.js';

export interface GeneratedFile {
  path: string;
  contents: string;
  /** File mode; scripts are executable. */
  mode?: number;
}

/** nginx passive checks: one failed connection takes a replica out for this long. */
export const NGINX_PASSIVE_CHECK = { maxFails: 1, failTimeout: '5s', connectTimeout: '1s' } as const;

export function renderStack(t: Topology): GeneratedFile[] {
  const { patroni, dbRouter, grafana, loadBalancer, secrets } = t;
  const files: GeneratedFile[] = [
    { path: 'compose.yaml', contents: renderCompose(t) },
    { path: 'grafana/grafana.ini', contents: renderGrafanaIni(t) },
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
    loadBalancer.kind === 'haproxy'
      ? {
          path: 'lb/haproxy.cfg',
          contents: renderTemplate('lb/haproxy.cfg', {
            replicas: grafana.replicas,
            listenPort: loadBalancer.listenPort,
            statusPort: loadBalancer.statusPort,
          }),
        }
      : {
          path: 'lb/nginx.conf',
          contents: renderTemplate('lb/nginx.conf', {
            replicas: grafana.replicas,
            listenPort: loadBalancer.listenPort,
            statusPort: loadBalancer.statusPort,
            ...NGINX_PASSIVE_CHECK,
          }),
        },
    ...patroni.nodes.map((node) => ({ path: node.configFile, contents: renderPatroniConfig(t, node) })),
    {
      path: 'patroni/image/Dockerfile',
      contents: renderTemplate('patroni/Dockerfile', {
        baseImage: patroni.baseImage,
        pipSpec: patroni.pipSpec,
        postBootstrap: POST_BOOTSTRAP_IN_CONTAINER,
        configFile: PATRONI_CONFIG_IN_CONTAINER,
      }),
    },
    {
      path: 'patroni/image/entrypoint.sh',
      mode: 0o755,
      contents: renderTemplate('patroni/entrypoint.sh', {
        secretsDir: '/run/secrets',
        secretVariables: [
          { variable: 'PATRONI_SUPERUSER_PASSWORD', secret: secrets.postgresSuperuser.name },
          { variable: 'PATRONI_REPLICATION_PASSWORD', secret: secrets.postgresReplication.name },
          { variable: 'PATRONI_RESTAPI_PASSWORD', secret: secrets.patroniRestApi.name },
        ],
      }),
    },
    {
      path: 'patroni/image/post-bootstrap.sh',
      mode: 0o755,
      contents: renderTemplate('patroni/post-bootstrap.sh', {
        passwordFile: secretPath(secrets.grafanaDb),
        role: grafana.database.user,
        database: grafana.database.name,
      }),
    },
    {
      path: ETCD_ADD_MEMBER_SCRIPT.slice(2),
      mode: 0o755,
      contents: renderTemplate('stack/etcd-add-member.sh', {
        script: ETCD_ADD_MEMBER_SCRIPT,
        members: t.etcd.members.map((m) => m.name),
        peerPort: t.etcd.members[0].peerPort,
      }),
    },
    { path: '.gitignore', contents: renderTemplate('stack/gitignore', { secretsDir: `${SECRETS_DIR}/` }) },
    {
      path: 'README.md',
      contents: renderTemplate('stack/README.md', {
        t,
        profiles: FAILOVER_PROFILES,
        timing: patroni.timing,
        users: PATRONI_USERS,
        stopGrace: PATRONI_STOP_GRACE,
        secretList: Object.values(secrets),
      }),
    },
  ];
  return files;
}
