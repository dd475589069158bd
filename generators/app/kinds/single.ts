/** One PostgreSQL container from the official image, no database HA: for development and trials. */
import { postgresImage } from '../catalog.js';
import { recreate } from '../commands.js';
import { hardening, healthcheck, limits, POSTGRES_ENTRYPOINT_CAPS, POSTGRES_STOP_GRACE, uses } from '../render/compose-parts.js';
import { readOnlyMount, secretPath } from '../stack-files.js';
import { NETWORKS } from '../networks.js';
import { SECRETS } from '../secret-specs.js';
import type { DatabaseModeSpec } from './database-mode.js';
import { initSqlFile, postgresData } from './postgres.js';

/** SQL creating Grafana's role and database: the postgres image's entrypoint runs it on the first start. */
const INIT_SQL = { path: 'postgres/create-grafana-db.sql', inContainer: '/docker-entrypoint-initdb.d/create-grafana-db.sql' };

export interface SinglePostgres {
  mode: 'single';
  server: { name: string; port: number; image: string; postgresMajor: number; dataVolume: string };
}

export const single: DatabaseModeSpec<SinglePostgres> = {
  summary: 'one container, not HA',
  choiceHelp: 'one PostgreSQL container, not HA: development and trials',
  asks: ['postgresMajor'],
  secrets: () => ['postgresSuperuser', 'grafanaDb', 'grafanaSecretKey', 'grafanaAdmin'],
  topology: (answers) => ({
    mode: 'single',
    server: {
      name: 'postgres',
      port: 5432,
      image: postgresImage(answers.postgresMajor),
      postgresMajor: answers.postgresMajor,
      // The image's own PGDATA applies: only the volume's place is ours to choose.
      dataVolume: postgresData(answers.postgresMajor).dataVolume,
    },
  }),
  grafanaEndpoint: (answers, db) => ({
    host: db.server.name,
    port: db.server.port,
    name: answers.dbName,
    user: answers.dbUser,
    sslMode: 'disable',
  }),
  serviceNames: (db) => [db.server.name],
  // pg_isready fails during crash recovery, and Swarm would kill PostgreSQL in the middle of it.
  livenessChecks: (db) => ({ [db.server.name]: null }),
  hostBound: (db) => ({ [db.server.name]: 'postgres' }),
  services: (t, { server }, volumes) => {
    volumes[`${server.name}-data`] = {};
    return {
      [server.name]: {
        image: server.image,
        volumes: [`${server.name}-data:${server.dataVolume}`, readOnlyMount(INIT_SQL)],
        secrets: uses(t.secrets.postgresSuperuser, t.secrets.grafanaDb),
        environment: {
          // The official image reads *_FILE variables itself.
          POSTGRES_PASSWORD_FILE: secretPath(SECRETS.postgresSuperuser),
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
  },
  grafanaDependsOn: (db) => ({ [db.server.name]: { condition: 'service_healthy' } }),
  usesDbNetwork: false,
  files: (t) => [initSqlFile(t, INIT_SQL.path)],
  warnings: () => [
    'db-mode single: one PostgreSQL container, no database HA. For development and trials; growing it into patroni later means moving the data (see the stack README).',
  ],
  runsPostgres: true,
  title: (oneReplica) =>
    oneReplica
      ? 'one Grafana replica on a single PostgreSQL (not highly available)'
      : 'Grafana replicas on a single PostgreSQL (database not HA)',
  readme: { services: 'readme/services-single.md.ejs', health: 'readme/health-single.md.ejs', database: 'readme/database-single.md.ejs' },
  readmeFacts: () => ({}),
  arrivingFrom: { patroni: 'the single server starts empty: dump the cluster through the DB router, re-run with --force, and restore it.' },
  refusals: () => [],
  inClusterSteps: () => [],
  planCommands: (_was, _after, db, change, notes) => {
    if (!change.redefined(db.server.name)) return [];
    notes.push(`Recreating ${db.server.name} interrupts Grafana's database for a few seconds (no database HA in this mode).`);
    return [recreate(db.server.name)];
  },
};
