/**
 * A PostgreSQL server OUTSIDE the generated stack, for the `external` database
 * mode: its own namespace and address on the lab network (a LabOptions
 * extraHost), Debian's PostgreSQL from the toolchain, scram-sha-256 only and
 * TLS required for every TCP connection (`hostssl … scram-sha-256`,
 * `hostnossl … reject`), with a certificate signed by a throw-away CA this
 * module makes with openssl. Grafana's role and database are created like a
 * DBA would for Grafana: a login role (not a superuser) owning its database.
 */
import { chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryOnce } from './clients.js';
import { run, shq, waitFor } from './shell.js';
import { TOOLCHAIN_ROOT, type StackLab } from './stack-lab.js';

export interface ExternalPostgres {
  host: string;
  /** The CA certificate that signed the server's (for verify-full). */
  caFile: string;
  superuserPassword: string;
  dir: string;
}

/** A CA and a server certificate for `host` (subjectAltName DNS:host). */
export async function makeCertificates(dir: string, host: string): Promise<void> {
  const o = (args: string[]) => run(['openssl', ...args], 60_000);
  await o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '2', '-subj', '/CN=ggha-lab-test-ca']);
  await o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', `/CN=${host}`]);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=DNS:${host}\n`);
  await o(['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', join(dir, 'server.crt'), '-days', '2', '-extfile', join(dir, 'san.ext')]);
}

const uidOf = (name: string) => Number(readFileSync(join(TOOLCHAIN_ROOT, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!.split(':')[2]);

/**
 * Starts the server on the lab's extra host `host` (call it from LabOptions.beforeServices) and
 * waits until it accepts TLS connections. `grafanaPassword`: the password the stack's secret holds.
 */
export async function startExternalPostgres(lab: StackLab, host: string, grafanaPassword: string, major = 18, certDir?: string): Promise<ExternalPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'ggha-external-db-'));
  // The stack's verify-full CA file must exist before the generator runs: certificates made earlier can be reused.
  if (certDir) for (const f of ['ca.crt', 'server.key', 'server.crt']) copyFileSync(join(certDir, f), join(dir, f));
  else await makeCertificates(dir, host);
  const superuserPassword = `lab-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, 'superuser.pw'), `${superuserPassword}\n`);
  writeFileSync(join(dir, 'grafana.pw'), grafanaPassword.trim());
  const uid = uidOf('postgres');
  chownSync(dir, uid, uid);
  for (const f of ['server.key', 'server.crt', 'superuser.pw', 'grafana.pw']) chownSync(join(dir, f), uid, uid);
  mkdirSync(join(TOOLCHAIN_ROOT, 'var/lib/ggha-external-db'), { recursive: true });
  const R = TOOLCHAIN_ROOT;
  const bin = `/usr/lib/postgresql/${major}/bin`;
  const D = '/var/lib/ggha-external-db';
  // Runs as postgres inside the toolchain: initdb (scram), TLS files, pg_hba (TLS or nothing), the
  // Grafana role through a socket-only temporary server, then the real server in the foreground.
  const setup = [
    'set -e',
    `initdb -D ${D}/data -U postgres --pwfile=${D}/superuser.pw --auth-local=scram-sha-256 --auth-host=scram-sha-256 >/dev/null`,
    `install -m 600 ${D}/server.key ${D}/data/server.key`,
    `install -m 644 ${D}/server.crt ${D}/data/server.crt`,
    `printf '%s\\n' 'local all postgres peer' 'hostssl all all 0.0.0.0/0 scram-sha-256' 'hostnossl all all 0.0.0.0/0 reject' > ${D}/data/pg_hba.conf`,
    `pg_ctl -D ${D}/data -w -o "-c listen_addresses=''" start >/dev/null`,
    `psql -U postgres -d postgres -v ON_ERROR_STOP=1 -q -v pw="$(cat ${D}/grafana.pw)" <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE grafana LOGIN PASSWORD :'pw';
CREATE DATABASE grafana OWNER grafana;
REVOKE ALL ON DATABASE grafana FROM PUBLIC;
SQL`,
    `pg_ctl -D ${D}/data -w stop >/dev/null`,
    `exec postgres -D ${D}/data -c listen_addresses='*' -c ssl=on -c password_encryption=scram-sha-256`,
  ].join('\n');
  const env = [`PATH=${bin}:/usr/bin:/bin`, 'LANG=C.UTF-8', `HOME=${D}`];
  const script = [
    'set -e',
    `mount -t proc proc ${shq(R + '/proc')}`,
    `mount -t tmpfs -o mode=755 tmpfs ${shq(R + '/run')}`,
    `mount -t tmpfs -o mode=1777 tmpfs ${shq(R + '/tmp')}`,
    `mkdir -p ${shq(R + '/run/postgresql')}`,
    `chown ${uid}:${uid} ${shq(R + '/run/postgresql')}`,
    `mount --bind ${shq(lab.hostsFile)} ${shq(R + '/etc/hosts')}`,
    `mount --bind ${shq(dir)} ${shq(R + D)}`,
    `exec chroot ${shq(R)} /usr/bin/setpriv --reuid=${uid} --regid=${uid} --clear-groups /usr/bin/env -i ${env.map(shq).join(' ')} /bin/sh -c ${shq(setup)}`,
  ].join('\n');
  lab.runOnHost(host, script);
  const db: ExternalPostgres = { host, caFile: join(dir, 'ca.crt'), superuserPassword, dir };
  await waitFor(`${host} to accept TLS connections`, async () => (await externalQuery(lab, db, 'SELECT 1 AS one'))[0].one === 1, 60_000, 500);
  return db;
}

/** A query on the external server as its superuser, over TLS (through the lab's forwarder). */
export const externalQuery = <T = any>(lab: StackLab, db: ExternalPostgres, sql: string, opts: { ssl?: boolean; database?: string } = {}): Promise<T[]> =>
  queryOnce<T>(
    {
      host: lab.socketDir(db.host),
      port: 5432,
      user: 'postgres',
      password: db.superuserPassword,
      database: opts.database ?? 'postgres',
      ssl: opts.ssl === false ? false : { rejectUnauthorized: false },
    },
    sql,
  );
