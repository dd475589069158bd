/**
 * grafana.ini, shared by every replica: the same root_url and secret_key
 * everywhere, secrets read from Docker secrets with Grafana's $__file{} syntax.
 */
import { stringify } from 'ini';
import { SECRETS } from '../secret-specs.js';
import type { Topology } from '../topology.js';
import { secretPath, STACK_FILES } from '../stack-files.js';

/** Well below the DB router's 30 min client/server timeouts (and common proxies' idle limits), so no proxy cuts a pooled connection first. */
export const GRAFANA_CONN_MAX_LIFETIME_S = 600;
/** Replicas started together race for the migration lock; the loser waits this long instead of exiting. */
export const GRAFANA_MIGRATION_LOCK_WAIT_S = 120;

export function grafanaIniObject(t: Topology) {
  const { grafana } = t;
  const db = grafana.database;
  return {
    server: {
      http_port: grafana.replicas[0].httpPort,
      // Behind a load balancer every replica builds links, redirects and cookies for the public URL.
      root_url: grafana.publicUrl,
      // A public URL with a path (https://example.com/grafana/): the load balancer passes the path on.
      serve_from_sub_path: new URL(grafana.publicUrl).pathname !== '/',
    },
    database: {
      type: 'postgres',
      // Grafana takes one host (no libpq multi-host list): an endpoint that always leads to the primary.
      host: `${db.host}:${db.port}`,
      name: db.name,
      user: db.user,
      password: `$__file{${secretPath(SECRETS.grafanaDb)}}`,
      // disable inside the stack (internal network only); the external database's own choice otherwise.
      ssl_mode: db.sslMode,
      ...(db.caCert ? { ca_cert_path: STACK_FILES.externalDbCa.inContainer } : {}),
      max_open_conn: 20,
      max_idle_conn: 5,
      conn_max_lifetime: GRAFANA_CONN_MAX_LIFETIME_S,
      migration_locking: true,
      locking_attempt_timeout_sec: GRAFANA_MIGRATION_LOCK_WAIT_S,
    },
    remote_cache: {
      // Sessions and cache live in the shared database: no sticky sessions needed.
      type: 'database',
    },
    security: {
      admin_user: 'admin',
      admin_password: `$__file{${secretPath(SECRETS.grafanaAdmin)}}`,
      secret_key: `$__file{${secretPath(SECRETS.grafanaSecretKey)}}`,
      cookie_secure: grafana.publicUrl.startsWith('https:'),
    },
    unified_alerting: {
      enabled: true,
      // Without gossip every replica would send every notification (grafana/grafana#53990).
      // Each peer by its name on `app` alone. Its own listen and advertise addresses must be IPs
      // (a name stops Grafana from starting, grafana/grafana#45060), known only once the container
      // runs: the entrypoint wrapper sets GF_UNIFIED_ALERTING_HA_{LISTEN,ADVERTISE}_ADDRESS.
      ha_peers: grafana.replicas.map((r) => `${r.gossipHost}:${r.gossipPort}`).join(','),
      ha_peer_timeout: '15s',
    },
    analytics: {
      reporting_enabled: false,
      check_for_updates: false,
    },
    log: {
      mode: 'console',
    },
  };
}

export const renderGrafanaIni = (t: Topology) => stringify(grafanaIniObject(t), { whitespace: true });
