/** A PostgreSQL run elsewhere (a managed service, another team's cluster): the stack runs none. */
import { STACK_FILES } from '../stack-files.js';
import type { DatabaseModeSpec } from './database-mode.js';

export interface ExternalPostgres {
  mode: 'external';
}

export const external: DatabaseModeSpec<ExternalPostgres> = {
  summary: 'your own PostgreSQL HA',
  choiceHelp: 'your own PostgreSQL HA, elsewhere',
  asks: ['dbHost', 'dbPort', 'dbName', 'dbUser', 'dbSslMode', 'dbCaFile'],
  // It brings its own superuser and replication.
  secrets: () => ['grafanaDb', 'grafanaSecretKey', 'grafanaAdmin'],
  secretOverrides: { grafanaDb: { purpose: "the password of Grafana's role on the external database", userProvided: true } },
  topology: () => ({ mode: 'external' }),
  grafanaEndpoint: (answers) => ({
    host: answers.dbHost,
    port: answers.dbPort,
    name: answers.dbName,
    user: answers.dbUser,
    sslMode: answers.dbSslMode,
    caCert: answers.dbSslMode === 'verify-full' ? { file: STACK_FILES.externalDbCa.path, source: answers.dbCaFile } : undefined,
  }),
  serviceNames: () => [],
  livenessChecks: () => ({}),
  hostBound: () => ({}),
  services: () => ({}),
  grafanaDependsOn: () => undefined,
  usesDbNetwork: false,
  // The CA certificate, when there is one, is the user's own file: the generator copies it.
  files: () => [],
  warnings: (a) =>
    a.dbSslMode === 'disable' ? ['db-ssl-mode disable: Grafana talks to the external database unencrypted, password included.'] : [],
  runsPostgres: false,
  title: (oneReplica) => (oneReplica ? 'one Grafana replica (not highly available)' : 'highly available Grafana'),
  readme: {
    services: 'readme/services-external.md.ejs',
    health: 'readme/health-external.md.ejs',
    database: 'readme/database-external.md.ejs',
  },
  readmeFacts: () => ({}),
  arrivingFrom: {},
  refusals: () => [],
  inClusterSteps: () => [],
  planCommands: () => [],
};
