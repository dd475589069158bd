/** What the modes that run PostgreSQL themselves (patroni, single) share. */
import { renderTemplate } from '../render/templates.js';
import { secretPath, type GeneratedFile } from '../stack-files.js';
import { SECRETS } from '../secret-specs.js';
import type { Topology } from '../topology.js';

/**
 * The official postgres image moved its data from /var/lib/postgresql/data
 * (≤ 17) to /var/lib/postgresql/<major>/docker (18+, VOLUME /var/lib/postgresql):
 * mount the named volume where that image declares its volume.
 */
export function postgresData(major: number) {
  return major >= 18
    ? { dataVolume: '/var/lib/postgresql', dataDir: `/var/lib/postgresql/${major}/docker` }
    : { dataVolume: '/var/lib/postgresql/data', dataDir: '/var/lib/postgresql/data/pgdata' };
}

/** Grafana's role and database, created once by whichever PostgreSQL the stack runs. */
export const initSqlFile = (t: Topology, path: string): GeneratedFile => ({
  path,
  contents: renderTemplate('postgres/create-grafana-db.sql', {
    passwordFile: secretPath(SECRETS.grafanaDb),
    role: t.grafana.database.user,
    database: t.grafana.database.name,
  }),
});
