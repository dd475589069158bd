/** Where things are mounted inside the containers. */
import type { SecretSpec } from '../topology.js';

/** Compose mounts each secret at /run/secrets/<name>. */
export const secretPath = (s: SecretSpec) => `/run/secrets/${s.name}`;

export const PATRONI_CONFIG_IN_CONTAINER = '/etc/patroni/patroni.yml';
/** Where PGDG's (and Debian's) patroni package installs patronictl; the wrapper in /usr/local/bin execs it. */
export const PATRONICTL_IN_IMAGE = '/usr/bin/patronictl';
/** Loads the Docker secrets into PATRONI_* variables, then runs its arguments. */
export const WITH_SECRETS_IN_CONTAINER = '/usr/local/bin/with-secrets';
export const GRAFANA_INI_IN_CONTAINER = '/etc/grafana/grafana.ini';
/** The grafana/grafana image's ENTRYPOINT, which the gossip-address wrapper execs. */
export const GRAFANA_IMAGE_ENTRYPOINT = '/run.sh';
/** Sets Grafana's alerting gossip addresses to the replica's IP on `app`, then runs the image's entrypoint. */
export const GRAFANA_GOSSIP_WRAPPER = 'grafana/gossip-address.sh';
export const GRAFANA_GOSSIP_WRAPPER_IN_CONTAINER = '/etc/grafana/gossip-address.sh';
export const GRAFANA_DB_CA_IN_CONTAINER = '/etc/grafana/db-ca.crt';
export const HAPROXY_CFG_IN_CONTAINER = '/usr/local/etc/haproxy/haproxy.cfg';
export const NGINX_CONF_IN_CONTAINER = '/etc/nginx/nginx.conf';

/** Takes a Grafana replica out of the load balancer's rotation (and back): `out|in <replica>`. */
export const LB_ROTATION_SCRIPT = './scripts/lb-rotation.sh';
/** The LB's HAProxy runtime API, on its own loopback: only `docker compose exec` reaches it. */
export const HAPROXY_RUNTIME_API_PORT = 9999;

/** Run from the stack folder to add one etcd member to the running cluster. */
export const ETCD_ADD_MEMBER_SCRIPT = './scripts/etcd-add-member.sh';

/** SQL creating Grafana's role and database: Patroni's post_bootstrap and the single server's initdb run it. */
export const PATRONI_INIT_SQL = 'patroni/image/create-grafana-db.sql';
export const PATRONI_INIT_SQL_IN_CONTAINER = '/usr/local/share/grafana-ha/create-grafana-db.sql';
export const SINGLE_INIT_SQL = 'postgres/create-grafana-db.sql';
