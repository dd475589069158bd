/**
 * A PostgreSQL server OUTSIDE the generated stack, for the `external` database
 * mode: a container of the (stand-in) official postgres image started beside
 * the stack on its network, scram-sha-256 only and TLS required for every TCP
 * connection (`hostssl … scram-sha-256`, `hostnossl … reject`), with a
 * certificate signed by a throw-away CA this module makes with openssl.
 * Grafana's role and database are created like a DBA would for Grafana: a
 * login role (not a superuser) owning its database.
 */
import { chmodSync, chownSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryOnce } from './clients.js';
import { run, waitFor } from './shell.js';
import type { StackLab } from './stack-lab.js';

export interface ExternalPostgres {
  host: string;
  /** Its address on the stack's network (the host reaches it there). */
  ip: string;
  /** The CA certificate that signed the server's (for verify-full). */
  caFile: string;
  superuserPassword: string;
  dir: string;
}

/** A CA and a server certificate for `host` (subjectAltName DNS:host). */
export async function makeCertificates(dir: string, host: string): Promise<void> {
  const o = (args: string[]) => run(['openssl', ...args], 60_000);
  await o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=ggha-lab-test-ca',
  ]);
  await o([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(dir, 'server.key'),
    '-out',
    join(dir, 'server.csr'),
    '-subj',
    `/CN=${host}`,
  ]);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=DNS:${host}\n`);
  await o([
    'x509',
    '-req',
    '-in',
    join(dir, 'server.csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-out',
    join(dir, 'server.crt'),
    '-days',
    '2',
    '-extfile',
    join(dir, 'san.ext'),
  ]);
}

/** The image's postgres user (999:999) owns what the server reads. */
const POSTGRES_UID = 999;

/**
 * Starts the server as `host` on the stack network `network` (call it from LabOptions.beforeServices)
 * and waits until it accepts TLS connections. `grafanaPassword`: the password the stack's secret holds.
 */
export async function startExternalPostgres(
  lab: StackLab,
  host: string,
  network: string,
  grafanaPassword: string,
  certDir?: string,
): Promise<ExternalPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'ggha-external-db-'));
  // The stack's verify-full CA file must exist before the generator runs: certificates made earlier can be reused.
  if (certDir) for (const f of ['ca.crt', 'server.key', 'server.crt']) copyFileSync(join(certDir, f), join(dir, f));
  else await makeCertificates(dir, host);
  const superuserPassword = `lab-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, 'superuser.pw'), superuserPassword);
  const quoted = grafanaPassword.trim().replace(/'/g, "''");
  writeFileSync(
    join(dir, 'grafana.sql'),
    `SET password_encryption = 'scram-sha-256';\nCREATE ROLE grafana LOGIN PASSWORD '${quoted}';\nCREATE DATABASE grafana OWNER grafana;\nREVOKE ALL ON DATABASE grafana FROM PUBLIC;\n`,
  );
  writeFileSync(
    join(dir, 'pg_hba.conf'),
    'local all all peer\nhostssl all all 0.0.0.0/0 scram-sha-256\nhostnossl all all 0.0.0.0/0 reject\n',
  );
  chmodSync(dir, 0o755);
  for (const f of ['server.key', 'server.crt', 'superuser.pw', 'grafana.sql', 'pg_hba.conf']) {
    chownSync(join(dir, f), POSTGRES_UID, POSTGRES_UID);
    chmodSync(join(dir, f), 0o600);
  }
  const D = '/ggha-external';
  await lab.runBeside(host, network, [
    '-v',
    `${dir}:${D}:ro`,
    '-v',
    `${dir}/grafana.sql:/docker-entrypoint-initdb.d/grafana.sql:ro`,
    '-e',
    `POSTGRES_PASSWORD_FILE=${D}/superuser.pw`,
    '-e',
    'POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256',
    'postgres:18.6-trixie',
    'postgres',
    '-c',
    'ssl=on',
    '-c',
    `ssl_cert_file=${D}/server.crt`,
    '-c',
    `ssl_key_file=${D}/server.key`,
    '-c',
    `hba_file=${D}/pg_hba.conf`,
    '-c',
    'password_encryption=scram-sha-256',
  ]);
  const ip = (
    await lab.docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "${lab.project}_${network}").IPAddress}}`, host])
  ).stdout.trim();
  const db: ExternalPostgres = { host, ip, caFile: join(dir, 'ca.crt'), superuserPassword, dir };
  await waitFor(`${host} to accept TLS connections`, async () => (await externalQuery(db, 'SELECT 1 AS one'))[0].one === 1, 90_000, 500);
  return db;
}

/** A query on the external server as its superuser, over TLS. */
export const externalQuery = <T = any>(db: ExternalPostgres, sql: string, opts: { ssl?: boolean; database?: string } = {}): Promise<T[]> =>
  queryOnce<T>(
    {
      host: db.ip,
      port: 5432,
      user: 'postgres',
      password: db.superuserPassword,
      database: opts.database ?? 'postgres',
      ssl: opts.ssl === false ? false : { rejectUnauthorized: false },
    },
    sql,
  );
