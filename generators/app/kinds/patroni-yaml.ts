/**
 * One Patroni YAML per node. Only `name` and the connect addresses differ;
 * passwords are not in the file: the image's entrypoint loads them from
 * Docker secrets into PATRONI_* variables (Patroni has no *_FILE convention).
 */
import { dump } from 'js-yaml';
import { IN_IMAGE } from '../stack-files.js';
import type { Topology } from '../topology.js';
import type { PatroniCluster, PatroniNode } from './patroni.js';
import { patroniBackupSettings } from './pgbackrest.js';

/** Patroni promotes no replica further behind than this (bytes); a restarted replica this close is back. */
export const MAXIMUM_LAG_ON_FAILOVER = 1048576;

const PATRONI_USERS = { superuser: 'postgres', replication: 'replicator', restApi: 'patroni' } as const;

export function patroniConfigObject(t: Topology, db: PatroniCluster, node: PatroniNode) {
  const { patroni, etcd } = db;
  return {
    scope: t.project,
    name: node.name,
    restapi: {
      listen: `0.0.0.0:${node.restApiPort}`,
      connect_address: `${node.name}:${node.restApiPort}`,
      authentication: { username: PATRONI_USERS.restApi },
    },
    etcd3: {
      hosts: etcd.members.map((m) => `${m.name}:${m.clientPort}`),
    },
    bootstrap: {
      // Read once, when the cluster is first initialised; later: `patronictl edit-config`.
      dcs: {
        ttl: patroni.timing.ttl,
        loop_wait: patroni.timing.loopWait,
        retry_timeout: patroni.timing.retryTimeout,
        maximum_lag_on_failover: MAXIMUM_LAG_ON_FAILOVER,
        synchronous_mode: patroni.synchronous,
        // Not strict: with every standby down the primary keeps accepting writes.
        synchronous_mode_strict: false,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            wal_level: 'replica',
            hot_standby: 'on',
            wal_log_hints: 'on',
            max_connections: 200,
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '256MB',
            password_encryption: 'scram-sha-256',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums', { 'auth-local': 'peer' }, { 'auth-host': 'scram-sha-256' }],
      post_bootstrap: IN_IMAGE.postBootstrap,
    },
    postgresql: {
      listen: `0.0.0.0:${node.postgresPort}`,
      connect_address: `${node.name}:${node.postgresPort}`,
      data_dir: patroni.dataDir,
      bin_dir: patroni.binDir,
      pgpass: '/tmp/pgpass',
      // Patroni's own local connections (bootstrap, monitoring) use the socket with peer auth.
      use_unix_socket: true,
      authentication: {
        superuser: { username: PATRONI_USERS.superuser },
        replication: { username: PATRONI_USERS.replication },
      },
      ...(patroni.backups ? patroniBackupSettings(patroni.backups) : {}),
      // A new replica asks for an immediate checkpoint instead of waiting minutes for the next one.
      basebackup: [{ checkpoint: 'fast' }],
      pg_hba: [
        'local all all peer',
        `host replication ${PATRONI_USERS.replication} 0.0.0.0/0 scram-sha-256`,
        'host all all 0.0.0.0/0 scram-sha-256',
      ],
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

export const renderPatroniConfig = (t: Topology, db: PatroniCluster, node: PatroniNode) =>
  dump(patroniConfigObject(t, db, node), { noRefs: true, lineWidth: 120 });
