/**
 * Step 3 of the pipeline: topology → every file of the stack, as data.
 * Pure: no disk writes, no secrets (files only name where secrets live).
 * The database mode and the load balancer kind add their own files (kinds/).
 */
import { DEPLOY_TARGETS, LOAD_BALANCERS, majorUpgradeCommand, modeOf } from '../kinds/index.js';
import type { SslMode } from '../questions.js';
import { IN_IMAGE, STACK_FILES, type GeneratedFile } from '../stack-files.js';
import { NETWORKS, SECRETS, SECRETS_DIR, type SecretSpec, type Topology } from '../topology.js';
import { composeObject } from './compose.js';
import { renderGrafanaIni } from './grafana-ini.js';
import { renderTemplate } from './templates.js';

export type { GeneratedFile };

/** The service definitions of compose.yaml: what a re-run compares to decide what to recreate. */
export const composeServices = (t: Topology) => composeObject(t).services;

/** The generator prints these after a first run; the stack README lists the same. */
export const firstStartCommands = (t: Topology): string[] => target(t).firstStartCommands(t, stackParts(t));

const target = (t: Topology) => DEPLOY_TARGETS[t.answers.deployTarget];

const EXTERNAL_SSL: Record<SslMode, string> = {
  disable: 'unencrypted',
  require: "encrypted, but the server's certificate is not checked",
  'verify-full': "encrypted, and the server's certificate and host name are checked against the CA file",
};

/** What the stack README and its partials are given: the topology, and every title and variant decided here. */
export type StackReadmeData = {
  t: Topology;
  db: Topology['database'];
  secretList: SecretSpec[];
} & ReturnType<typeof readmeFacts> &
  Partial<ReturnType<typeof partialFacts>> &
  // What the database mode's own partials show (drill figures, file names, …).
  Record<string, unknown>;

/** Every title and variant the stack README chooses between, decided here so the template only lays them out. */
function readmeFacts(t: Topology) {
  const db = t.database;
  const mode = modeOf(db);
  const oneReplica = t.grafana.replicas.length === 1;
  const { sslMode } = t.grafana.database;
  return {
    title: mode.title(oneReplica),
    adminPasswordFile: SECRETS.grafanaAdmin.file,
    refusedChanges:
      mode.runsPostgres && !majorUpgradeCommand(t)
        ? 'the project name, the PostgreSQL major version or the database mode'
        : 'the project name or the database mode',
    containerUsers: mode.runsPostgres ? 'Grafana as 472, PostgreSQL as 999' : 'Grafana as 472',
    /** How Grafana's connection to an external database is protected, for the limits. */
    externalDbLink: mode.runsPostgres ? undefined : `Grafana reaches your database with \`ssl_mode=${sslMode}\`: ${EXTERNAL_SSL[sslMode]}.`,
  };
}

/** What the README partials of the database mode and the load balancer (templates/stack/readme/) read. */
function partialFacts(t: Topology) {
  return {
    oneReplica: t.grafana.replicas.length === 1,
    mode: modeOf(t.database),
    lb: LOAD_BALANCERS[t.loadBalancer.kind],
    files: STACK_FILES,
    /** The backup a Grafana major upgrade takes first, when the stack keeps backups. */
    restorePointCommand: modeOf(t.database).restorePointCommand?.(t.database),
    ...modeOf(t.database).readmeFacts(t.database),
  };
}

/** Every file but the stack file and the README, whatever the deploy target. */
export function stackParts(t: Topology): GeneratedFile[] {
  return [
    { path: STACK_FILES.grafanaIni.path, contents: renderGrafanaIni(t) },
    {
      path: STACK_FILES.gossipWrapper.path,
      mode: 0o755,
      contents: renderTemplate('grafana/gossip-address.sh', {
        entrypoint: IN_IMAGE.grafanaEntrypoint,
        network: NETWORKS.app,
        port: t.grafana.replicas[0].gossipPort,
      }),
    },
    ...LOAD_BALANCERS[t.loadBalancer.kind].files(t),
    ...modeOf(t.database).files(t, t.database),
    {
      path: STACK_FILES.gitignore.path,
      contents: renderTemplate('stack/gitignore', { secretsDir: `${SECRETS_DIR}/`, dumpsDir: `${STACK_FILES.dumps.path}/` }),
    },
  ];
}

export function renderStack(t: Topology): GeneratedFile[] {
  const parts = stackParts(t);
  const files = target(t).files(t, parts);
  const readme = renderTemplate(target(t).readme, {
    t,
    db: t.database,
    secretList: Object.values(t.secrets),
    ...readmeFacts(t),
    ...(target(t).readmePartials ? partialFacts(t) : {}),
    ...target(t).readmeFacts(t, parts),
  });
  return [...files, { path: STACK_FILES.readme.path, contents: readme }];
}
