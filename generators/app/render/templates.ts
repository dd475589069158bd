/** Renders an EJS template from the package's top-level `templates/` folder. */
import ejs from 'ejs';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterReset } from '../kinds/pgbackrest.js';
import type { GrafanaReplica } from '../topology.js';
import type { StackReadmeData } from './index.js';

/** The package root: the first folder above this file with a package.json (sources and dist/ alike). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('generator-grafana-ha: cannot find its package.json');
    dir = parent;
  }
  return dir;
}

export const TEMPLATES_DIR = join(packageRoot(), 'templates');

/**
 * What each template is given, by name (templates/<name>.ejs): a call with a missing, misspelt or
 * extra key does not compile, and __tests__/templates.test.ts checks that each key given is read.
 */
export interface TemplateData {
  'lb/haproxy.cfg': {
    replicas: GrafanaReplica[];
    listenPort: number;
    statusPort: number;
    runtimeApiPort: number;
    rotationScript: string;
    backend: string;
    connectTimeout: string;
    initAddr: string;
  };
  'lb/rotation-haproxy.sh': { script: string; replicas: string[]; lb: string; runtimeApiPort: number; backend: string };
  'lb/nginx.conf': {
    replicas: GrafanaReplica[];
    listenPort: number;
    statusPort: number;
    rotationScript: string;
    maxFails: number;
    failTimeout: string;
    connectTimeout: string;
  };
  'lb/rotation-nginx.sh': { script: string; replicas: string[]; lb: string; config: string };
  'db-router/haproxy.cfg': {
    nodes: string[];
    postgresPort: number;
    restApiPort: number;
    primaryPort: number;
    replicaPort: number;
    statusPort: number;
    grafanaConnMaxLifetime: number;
    initAddr: string;
  };
  'patroni/Dockerfile': {
    baseImage: string;
    patroniPackage: string;
    patronictl: string;
    dataVolume: string;
    withSecrets: string;
    postBootstrap: string;
    initSql: string;
    configFile: string;
    backups: { package: string; repoPath: string; wrapper: string; restoreCommand: string; afterPromotion: string } | null;
  };
  'patroni/secrets-wrapper.sh': { tool: string; binary: string; why: string; withSecrets: string };
  'patroni/backup.sh': { script: string; nodes: string[]; restApiPort: number; stanza: string };
  'patroni/restore.sh': ClusterReset & { script: string; backupScript: string; override: string; restApiPort: number };
  'patroni/restore-from-backup.sh': { stanza: string };
  'patroni/failover-drill.sh': {
    script: string;
    nodes: string[];
    restApiPort: number;
    router: string;
    routerPort: number;
    lbPort: number;
    superuserSecret: string;
    table: string;
  };
  'patroni/upgrade-postgres-major.sh': ClusterReset & {
    script: string;
    major: number;
    restApiPort: number;
    grafana: string[];
    database: string;
    role: string;
    dumpsDir: string;
    initSql: string;
    /** With backups: the first start's override, and the stanza it moves to the new cluster. */
    backups: { override: string; stanza: string; backupScript: string } | null;
  };
  'patroni/rolling-restart.sh': { script: string; nodes: string[]; restApiPort: number; synchronous: boolean; maxLag: number };
  'patroni/backup-after-promotion.sh': { stanza: string };
  'patroni/with-secrets.sh': { secretsDir: string; secretVariables: { variable: string; secret: string }[] };
  'patroni/post-bootstrap.sh': { sqlFile: string; stanza: string | undefined };
  'postgres/create-grafana-db.sql': { passwordFile: string; role: string; database: string };
  'stack/etcd-add-member.sh': { script: string; members: string[]; peerPort: number };
  'grafana/gossip-address.sh': { entrypoint: string; network: string; port: number };
  'stack/gitignore': { secretsDir: string; dumpsDir: string };
  'swarm/wait.sh': { project: string; script: string; limitSeconds: number };
  'swarm/label-nodes.sh': {
    script: string;
    members: { label: string; value: string; index: number }[];
    firstHostHolds: string;
    lbHosts: number;
    lbLabel: string;
    lb: string;
  };
  /** The stack README and its partials (templates/stack/readme/), which see the same data. */
  'stack/README.md': StackReadmeData;
  'stack/README-swarm.md': StackReadmeData;
}

export type TemplateName = keyof TemplateData;

/** Keys each template was given, over this process: what the templates test compares with what they read. */
export const keysGiven = new Map<TemplateName, Set<string>>();

export function renderTemplate<N extends TemplateName>(name: N, data: TemplateData[N]): string {
  const file = join(TEMPLATES_DIR, `${name}.ejs`);
  const given = keysGiven.get(name) ?? new Set<string>();
  for (const key of Object.keys(data)) given.add(key);
  keysGiven.set(name, given);
  return ejs.render(readFileSync(file, 'utf8'), data, { filename: file });
}
