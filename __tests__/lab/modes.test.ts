/**
 * Issue 5, live on the real engine: the `single` and `external` database
 * modes. `single`: the postgres image (stand-in, lab/images/postgres).
 * `external`: a PostgreSQL container the test starts beside the stack on its
 * network (lab/external-postgres.ts: scram-sha-256, TLS required), reached by
 * Grafana's stand-in with ssl_mode require, then verify-full with the CA file
 * the generator copied into the stack; and a Patroni stack's db-router, as
 * another Compose project sharing the network.
 * One lab at a time (the lab lock). Needs root and the engine; skipped loudly otherwise.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import pg from 'pg';
import { httpRequest, waitClusterSettled } from '../../lab/clients.js';
import { externalQuery, makeCertificates, startExternalPostgres, type ExternalPostgres } from '../../lab/external-postgres.js';
import { generateStack, generateStackWith } from '../../lab/generate.js';
import { primaryLoss } from '../../lab/scenarios.js';
import { waitFor } from '../../lab/shell.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) {
  console.warn(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!! STACK LAB SKIPPED (db modes): ${unavailable}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`,
  );
}
const describeLab = unavailable ? describe.skip : describe;
const log = (l: string) => process.env.GGHA_LAB_VERBOSE && console.log(l);
// Generous: StackLab.start may first wait for the lab lock while another lab file (a parallel jest worker) runs its lab.
jest.setTimeout(900_000);

let lab: StackLab | undefined;
afterEach(() => {
  lab?.destroy();
  lab = undefined;
});

/** Runs inside a Grafana stand-in's container: connects with the stand-in's own verify-full TLS options. */
const VERIFY_PROBE = `
import { readFileSync } from 'node:fs';
import pg from '/usr/share/grafana/standin/node_modules/pg/lib/index.js';
const { sslOptions } = await import('/usr/share/grafana/standin/grafana-standin.js');
const password = readFileSync('/run/secrets/grafana-db-password', 'utf8').trim();
const out = {};
for (const [name, host, ca] of [['stackCa', 'external-db', null], ['foreignCa', 'external-db', process.env.FOREIGN_CA], ['byAddress', process.env.DB_IP, null]]) {
  const ssl = sslOptions('verify-full', '/etc/grafana/db-ca.crt', ca ? () => ca : undefined);
  const c = new pg.Client({ host, port: 5432, user: 'grafana', password, database: 'grafana', ssl, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  try { await c.connect(); await c.query('SELECT 1'); out[name] = 'ok'; } catch (e) { out[name] = e.message; }
  await c.end().catch(() => {});
}
console.log(JSON.stringify(out));
`;

/** Writes through the LB, reads them back through the LB, and checks every replica served. */
async function writeAndReadThroughLb(l: StackLab): Promise<{ ids: number[]; instances: Set<string> }> {
  const lb = l.published();
  const ids: number[] = [];
  const instances = new Set<string>();
  await waitFor(
    'writes through the LB',
    async () => {
      const r = await httpRequest(lb, 'POST', '/api/standin/writes');
      if (r.status === 200) {
        ids.push(JSON.parse(r.body).id);
        instances.add(await l.serviceOfHostname(r.instance!));
      }
      return ids.length >= 10 && l.services('grafana-standin').every((g) => instances.has(g));
    },
    60_000,
    50,
  );
  const read = await httpRequest(lb, 'GET', '/api/standin/writes');
  expect(read.status).toBe(200);
  const stored = new Set<number>(JSON.parse(read.body).ids);
  expect(ids.filter((id) => !stored.has(id))).toEqual([]);
  return { ids, instances };
}

describeLab('database modes', () => {
  test('single: one PostgreSQL (the postgres image stand-in), healthy; the Grafana stand-ins read and write through it', async () => {
    const dir = generateStackWith(['--db-mode', 'single']);
    lab = await StackLab.start(dir, { log, removeStackDir: true });
    for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
    expect(lab.services('postgres')).toEqual(['postgres']);
    expect(lab.services('patroni')).toEqual([]);
    const { ids, instances } = await writeAndReadThroughLb(lab);
    // Grafana's role from create-grafana-db.sql: not a superuser, owns its database.
    const client = new pg.Client({
      host: await lab.address('postgres'),
      port: 5432,
      user: 'postgres',
      password: readFileSync(join(dir, 'secrets/postgres-superuser-password'), 'utf8').trim(),
      database: 'grafana',
    });
    await client.connect();
    try {
      const role = (
        await client.query("SELECT rolsuper, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = 'grafana'")
      ).rows[0];
      const rows = (await client.query('SELECT count(*)::int AS n FROM standin_writes')).rows[0].n;
      console.log(
        `single: ${ids.length} writes through the LB by ${[...instances].join(', ')}, ${rows} rows; grafana role superuser=${role.rolsuper} scram=${role.scram}`,
      );
      expect(role).toEqual({ rolsuper: false, scram: true });
      expect(rows).toBeGreaterThanOrEqual(ids.length);
    } finally {
      await client.end();
    }
  });

  for (const sslMode of ['require', 'verify-full'] as const) {
    test(`external, ssl_mode ${sslMode}: the stand-ins use a PostgreSQL outside the stack (scram-sha-256, TLS required; a plain connection is refused)`, async () => {
      const password = `grafana-${Math.random().toString(36).slice(2)}`;
      const pwFile = join(tmpdir(), `ggha-lab-external-pw-${process.pid}`);
      writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
      let db: ExternalPostgres | undefined;
      // verify-full needs the CA file when the generator runs: the server's certificates come first.
      const certDir = mkdtempSync(join(tmpdir(), 'ggha-external-ca-'));
      await makeCertificates(certDir, 'external-db');
      const caFile = join(certDir, 'ca.crt');
      const args = ['--db-mode', 'external', '--db-host', 'external-db', '--db-ssl-mode', sslMode, '--db-password-file', pwFile];
      if (sslMode === 'verify-full') args.push('--db-ca-file', caFile);
      const dir = generateStackWith(args);
      rmSync(pwFile);
      try {
        const ini = readFileSync(join(dir, 'grafana/grafana.ini'), 'utf8');
        expect(ini).toContain(`ssl_mode = ${sslMode}`);
        lab = await StackLab.start(dir, {
          log,
          removeStackDir: true,
          beforeServices: async (l) => {
            db = await startExternalPostgres(l, 'external-db', 'edge', password, certDir);
          },
        });
        expect(lab.services().sort()).toEqual(['grafana-1', 'grafana-2', 'lb']);
        for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
        const { ids, instances } = await writeAndReadThroughLb(lab);
        // Every Grafana connection on the server is TLS, as the grafana role, authenticated with SCRAM.
        const sessions = await externalQuery<{ ssl: boolean }>(
          db!,
          "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'grafana'",
        );
        const [role] = await externalQuery(
          db!,
          "SELECT rolsuper, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = 'grafana'",
        );
        // A plain (non-TLS) connection, with the right password, is refused by the server.
        const plain = await externalQuery(db!, 'SELECT 1', { ssl: false }).then(
          () => 'accepted',
          (e: Error) => e.message,
        );
        console.log(
          `external ${sslMode}: ${ids.length} writes by ${[...instances].join(', ')}; grafana sessions ${sessions.length}, all TLS ${sessions.every((s) => s.ssl)}; plain connection: ${plain}`,
        );
        expect(sessions.length).toBeGreaterThan(0);
        expect(sessions.every((s) => s.ssl)).toBe(true);
        expect(role).toEqual({ rolsuper: false, scram: true });
        expect(plain).toMatch(/no encryption|pg_hba\.conf rejects/);
        if (sslMode === 'verify-full') {
          expect(readFileSync(join(dir, 'grafana/db-ca.crt'), 'utf8')).toBe(readFileSync(caFile, 'utf8'));
          expect(ini).toContain('ca_cert_path = /etc/grafana/db-ca.crt');
          // The stand-in's verify-full really verifies: from inside grafana-1, its TLS options with the
          // stack's CA file connect; with another CA, or by address instead of name, they are refused.
          const foreignDir = mkdtempSync(join(tmpdir(), 'ggha-foreign-ca-'));
          await makeCertificates(foreignDir, 'external-db');
          const checks = await lab.exec('grafana-1', ['node', '--input-type=module', '-e', VERIFY_PROBE], {
            env: { FOREIGN_CA: readFileSync(join(foreignDir, 'ca.crt'), 'utf8'), DB_IP: db!.ip },
          });
          rmSync(foreignDir, { recursive: true, force: true });
          const verdicts = JSON.parse(checks.stdout || '{}');
          console.log(`verify-full probes from grafana-1: ${JSON.stringify(verdicts)}`);
          expect(verdicts.stackCa).toBe('ok');
          expect(verdicts.foreignCa).toMatch(/self[- ]signed|unable to verify|certificate/i);
          expect(verdicts.byAddress).toMatch(/IP|altnames|does not match/i);
        }
      } finally {
        rmSync(certDir, { recursive: true, force: true });
        if (db) rmSync(db.dir, { recursive: true, force: true });
      }
    });
  }

  test('external → a Patroni cluster started by the test (its db-router): the primary is SIGKILLed under a writer; the stand-ins recover by themselves, nothing acknowledged is lost', async () => {
    // The database tier of a generated Patroni stack runs as its own Compose project; its db-router is
    // attached to the external stack's network under the name the external stack's grafana.ini uses.
    const patroniDir = generateStack({ loadBalancer: 'haproxy', synchronousReplication: true });
    let db: StackLab | undefined;
    try {
      db = await StackLab.start(patroniDir, { log, removeStackDir: true, only: (n) => /^(etcd-\d+|pg-\d+|db-router)$/.test(n) });
      await waitClusterSettled(db, { sync: true });
      const router = await db.container('db-router');
      const dir = generateStackWith([
        '--project-name',
        'grafana-ext',
        '--db-mode',
        'external',
        '--db-host',
        'db-router',
        '--db-ssl-mode',
        'disable',
        '--db-password-file',
        join(patroniDir, 'secrets/grafana-db-password'),
      ]);
      lab = await StackLab.start(dir, {
        log,
        removeStackDir: true,
        lockHeld: true,
        beforeServices: async (l) => {
          const r = await l.docker(['network', 'connect', '--alias', 'db-router', `${l.project}_edge`, router]);
          if (r.code !== 0) throw new Error(r.stderr);
        },
      });
      await writeAndReadThroughLb(lab);
      const r = await primaryLoss(lab, 'kill', true, db);
      const health: Record<string, number> = {};
      for (const g of lab.services('grafana-standin')) {
        const since = Date.now();
        const grafana = await lab.target(g, 3000);
        await waitFor(
          `${g} /api/health to be ok`,
          async () => (await httpRequest(grafana, 'GET', '/api/health')).status === 200,
          30_000,
          250,
        );
        health[g] = Date.now() - since;
      }
      console.log(
        `external → Patroni: ${r.oldLeader} SIGKILLed → ${r.newLeader}, write outage ${(r.outageMs / 1000).toFixed(1)} s, ${r.acked} acked, ${r.lost.length} lost, ${r.writer.events.filter((e) => !e.ok).length} failed during the failover; /api/health ok again (ms after the writer stopped): ${JSON.stringify(health)}`,
      );
      expect(r.newLeader).not.toBe(r.oldLeader);
      expect(r.acked).toBeGreaterThan(0);
      expect(r.lost).toEqual([]);
      expect(r.oldLeaderRoleAfterRejoin).not.toBe('leader');
    } finally {
      lab?.destroy();
      lab = undefined;
      db?.destroy();
    }
  });
});
