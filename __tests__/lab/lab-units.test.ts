/**
 * The lab's pure parts, runnable anywhere (no root, no toolchain): how it
 * reads a generated stack, and its one documented mapping — Docker's DNS at
 * 127.0.0.11, which the lab serves with a stand-in instead of rewriting the
 * HAProxy/nginx configs. The lab rewrites no generated file.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCompose, parseDuration, startOrder } from '../../lab/compose-model.js';
import { answer } from '../../lab/dns-standin.js';
import { acquireLabLock, releaseLabLock } from '../../lab/lab-lock.js';
import { expandValue, parseGrafanaIni, sslOptions } from '../../lab/grafana-standin.js';
import { planCommands } from '../../lab/generate.js';
import { programFor } from '../../lab/programs.js';
import { writeFileSync } from 'node:fs';

const tempDirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ggha-unit-'));
  tempDirs.push(d);
  return d;
};
afterAll(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A DNS query for `name`, type A (1) or AAAA (28). */
function query(name: string, type = 1): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, type, 0, 1])]);
}

describe('DNS stand-in (serves the 127.0.0.11 the generated HAProxy/nginx configs name)', () => {
  const hosts = { 'pg-1': '10.213.47.13' };
  test('answers A records from the lab hosts table', () => {
    const r = answer(query('pg-1'), hosts);
    expect(r.readUInt16BE(0)).toBe(0x1234);
    expect(r.readUInt16BE(6)).toBe(1);
    expect([...r.subarray(r.length - 4)]).toEqual([10, 213, 47, 13]);
  });
  test('NXDOMAIN for unknown names, empty answer for AAAA', () => {
    expect(answer(query('nope'), hosts).readUInt16BE(2) & 0xf).toBe(3);
    const aaaa = answer(query('pg-1', 28), hosts);
    expect(aaaa.readUInt16BE(2) & 0xf).toBe(0);
    expect(aaaa.readUInt16BE(6)).toBe(0);
  });
});

describe('Grafana stand-in config reading', () => {
  test('expands $__file{} (trimmed) and $__env{}, applies GF_ overrides', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    expect(expandValue(`$__file{${join(dir, 'pw')}}`)).toBe('s3cret');
    process.env.GGHA_UNIT_X = 'x1';
    expect(expandValue('a-$__env{GGHA_UNIT_X}')).toBe('a-x1');
    const ini = parseGrafanaIni('[database]\nhost = db-router:5432\n; comment\nconn_max_lifetime = 600\n', { GF_DATABASE_NAME: 'g' });
    expect(ini.database).toEqual({ host: 'db-router:5432', conn_max_lifetime: '600', name: 'g' });
  });
});

describe('Grafana stand-in TLS, like Grafana [database] ssl_mode', () => {
  test('disable, require (no verification), verify-full (CA from ca_cert_path, host name checked)', () => {
    expect(sslOptions('disable', '')).toBe(false);
    expect(sslOptions('require', '')).toEqual({ rejectUnauthorized: false });
    expect(sslOptions('verify-full', '/etc/grafana/db-ca.crt', () => 'PEM')).toEqual({ rejectUnauthorized: true, ca: 'PEM' });
    expect(() => sslOptions('sometimes', '')).toThrow(/ssl_mode/);
  });
});

describe('re-run plan parsing', () => {
  test('takes the commands after "apply it…" and stops at the first other line', () => {
    const out = 'Changes for the running stack:\n  apply it, from this folder, in this order:\n    ./scripts/etcd-add-member.sh etcd-4\n    docker compose kill -s USR2 lb\n    force compose.yaml\n';
    expect(planCommands(out)).toEqual(['./scripts/etcd-add-member.sh etcd-4', 'docker compose kill -s USR2 lb']);
  });
});

describe('compose model', () => {
  test('durations', () => {
    expect(parseDuration('1m30s', 0)).toBe(90_000);
    expect(parseDuration(undefined, 10_000)).toBe(10_000);
  });

  test('a generated stack maps onto programs; only the LBs need the DNS stand-in', async () => {
    const { validateAnswers } = await import('../../generators/app/config.js');
    const { buildTopology } = await import('../../generators/app/topology.js');
    const { renderStack } = await import('../../generators/app/render/index.js');
    const dir = tempDir();
    const { answers } = validateAnswers({ postgresMajor: 18 } as any);
    const { mkdirSync } = await import('node:fs');
    for (const f of renderStack(buildTopology(answers as any))) {
      mkdirSync(join(dir, f.path, '..'), { recursive: true });
      writeFileSync(join(dir, f.path), f.contents);
    }
    const model = loadCompose(dir);
    const kinds = Object.fromEntries(model.services.map((s) => [s.name, programFor(s).kind]));
    expect(kinds).toMatchObject({ 'etcd-1': 'etcd', 'pg-1': 'patroni', 'db-router': 'haproxy', 'grafana-1': 'grafana-standin', lb: 'haproxy' });
    const dns = model.services.filter((s) => programFor(s).usesDockerDns).map((s) => s.name).sort();
    expect(dns).toEqual(['db-router', 'lb']);
    expect(programFor(model.services.find((s) => s.name === 'pg-1')!).ports.sort()).toEqual([5432, 8008]);
    expect(startOrder(model)[0].map((s) => s.name)).toContain('etcd-1');
    expect(readFileSync(join(dir, 'db-router/haproxy.cfg'), 'utf8')).toContain('127.0.0.11');
    // The image ships the script the Patroni YAML names as post_bootstrap (the lab mounts it from the Dockerfile's COPY).
    const { load } = await import('js-yaml');
    const postBootstrap = (load(readFileSync(join(dir, 'patroni/pg-1.yml'), 'utf8')) as any).bootstrap.post_bootstrap;
    expect(programFor(model.services.find((s) => s.name === 'pg-1')!).imageFiles.map((f) => f.target)).toContain(postBootstrap);
  });
});

describe('one lab per machine', () => {
  test('a stale lock is taken over, a live owner is waited for, release frees it', async () => {
    const path = join(tempDir(), 'lab.pid');
    writeFileSync(path, '999999999'); // no such process
    await acquireLabLock(1000, path);
    expect(readFileSync(path, 'utf8')).toBe(String(process.pid));
    releaseLabLock(path);
    writeFileSync(path, String(process.ppid)); // alive, not us
    await expect(acquireLabLock(1200, path)).rejects.toThrow(/holds/);
  });
});
