/**
 * Issue 5, live: the `single` and `external` database modes run with real
 * programs. `single`: the official postgres image's own entrypoint on Debian's
 * PostgreSQL (lab/images/postgres). `external`: a PostgreSQL server the test
 * starts outside the stack (lab/external-postgres.ts: scram-sha-256, TLS
 * required), reached by Grafana's stand-in with ssl_mode require, then
 * verify-full with the CA file the generator copied into the stack.
 * One lab at a time (the lab lock); each stack is small (no Patroni, no etcd).
 * Needs root and the toolchain (lab/toolchain.sh); skipped loudly otherwise.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import pg from 'pg';
import { httpRequest } from '../../lab/clients.js';
import { externalQuery, makeCertificates, startExternalPostgres, type ExternalPostgres } from '../../lab/external-postgres.js';
import { generateStackWith } from '../../lab/generate.js';
import { waitFor } from '../../lab/shell.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) {
  console.warn(`\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!! STACK LAB SKIPPED (db modes): ${unavailable}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`);
}
const describeLab = unavailable ? describe.skip : describe;
const log = (l: string) => process.env.GGHA_LAB_VERBOSE && console.log(l);
jest.setTimeout(300_000);

let lab: StackLab | undefined;
afterEach(() => {
  lab?.destroy();
  lab = undefined;
});

/** Writes through the LB, reads them back through the LB, and checks every replica served. */
async function writeAndReadThroughLb(l: StackLab): Promise<{ ids: number[]; instances: Set<string> }> {
  const socket = l.socketPath('lb', 8080);
  const ids: number[] = [];
  const instances = new Set<string>();
  await waitFor('writes through the LB', async () => {
    const r = await httpRequest(socket, 'POST', '/api/standin/writes');
    if (r.status === 200) {
      ids.push(JSON.parse(r.body).id);
      instances.add(r.instance!);
    }
    return ids.length >= 10 && l.services('grafana-standin').every((g) => instances.has(g));
  }, 60_000, 50);
  const read = await httpRequest(socket, 'GET', '/api/standin/writes');
  expect(read.status).toBe(200);
  const stored = new Set<number>(JSON.parse(read.body).ids);
  expect(ids.filter((id) => !stored.has(id))).toEqual([]);
  return { ids, instances };
}

describeLab('issue 5: database modes', () => {
  test('single: one PostgreSQL (official image entrypoint), healthy; the Grafana stand-ins read and write through it', async () => {
    const dir = generateStackWith(['--db-mode', 'single']);
    lab = await StackLab.start(dir, { log, removeStackDir: true });
    for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
    expect(lab.services('postgres')).toEqual(['postgres']);
    expect(lab.services('patroni')).toEqual([]);
    const { ids, instances } = await writeAndReadThroughLb(lab);
    // Grafana's role from create-grafana-db.sql: not a superuser, owns its database.
    const client = new pg.Client({
      host: lab.socketDir('postgres'),
      port: 5432,
      user: 'postgres',
      password: readFileSync(join(dir, 'secrets/postgres-superuser-password'), 'utf8').trim(),
      database: 'grafana',
    });
    await client.connect();
    try {
      const role = (await client.query("SELECT rolsuper, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = 'grafana'")).rows[0];
      const rows = (await client.query('SELECT count(*)::int AS n FROM standin_writes')).rows[0].n;
      console.log(`single: ${ids.length} writes through the LB by ${[...instances].join(', ')}, ${rows} rows; grafana role superuser=${role.rolsuper} scram=${role.scram}`);
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
          extraHosts: [{ name: 'external-db', ports: [5432] }],
          beforeServices: async (l) => {
            db = await startExternalPostgres(l, 'external-db', password, 18, certDir);
          },
        });
        expect(lab.services().sort()).toEqual(['grafana-1', 'grafana-2', 'lb']);
        for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
        const { ids, instances } = await writeAndReadThroughLb(lab);
        // Every Grafana connection on the server is TLS, as the grafana role, authenticated with SCRAM.
        const sessions = await externalQuery<{ ssl: boolean }>(lab, db!, "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = 'grafana'");
        const [role] = await externalQuery(lab, db!, "SELECT rolsuper, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = 'grafana'");
        // A plain (non-TLS) connection, with the right password, is refused by the server.
        const plain = await externalQuery(lab, db!, 'SELECT 1', { ssl: false }).then(() => 'accepted', (e: Error) => e.message);
        console.log(`external ${sslMode}: ${ids.length} writes by ${[...instances].join(', ')}; grafana sessions ${sessions.length}, all TLS ${sessions.every((s) => s.ssl)}; plain connection: ${plain}`);
        expect(sessions.length).toBeGreaterThan(0);
        expect(sessions.every((s) => s.ssl)).toBe(true);
        expect(role).toEqual({ rolsuper: false, scram: true });
        expect(plain).toMatch(/no encryption|pg_hba\.conf rejects/);
        if (sslMode === 'verify-full') {
          expect(readFileSync(join(dir, 'grafana/db-ca.crt'), 'utf8')).toBe(readFileSync(caFile, 'utf8'));
          expect(ini).toContain('ca_cert_path = /etc/grafana/db-ca.crt');
        }
      } finally {
        rmSync(certDir, { recursive: true, force: true });
        if (db) rmSync(db.dir, { recursive: true, force: true });
      }
    });
  }

});
