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
import { acquireLabLock, releaseLabLock } from '../../lab/lab-lock.js';
import { expandValue, parseGrafanaIni, sslOptions } from '../../lab/grafana-standin.js';
import { planCommands } from '../../lab/generate.js';
import { runbookCommands } from '../../lab/runbook.js';
import { kindOf } from '../../lab/stack-lab.js';
import { outageAround, type LoopResult } from '../../lab/clients.js';
import { writeFileSync } from 'node:fs';

const tempDirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ggha-unit-'));
  tempDirs.push(d);
  return d;
};
afterAll(() => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

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
    const out =
      'Changes for the running stack:\n  apply it, from this folder, in this order:\n    ./scripts/etcd-add-member.sh etcd-4\n    docker compose kill -s USR2 lb\n    force compose.yaml\n';
    expect(planCommands(out)).toEqual(['./scripts/etcd-add-member.sh etcd-4', 'docker compose kill -s USR2 lb']);
  });
});

describe('README runbook blocks', () => {
  const readme = [
    '## Start',
    '```sh',
    '# a comment, not a heading',
    'docker compose up -d',
    '```',
    '## Rehearse',
    '```text',
    './scripts/drill.sh',
    '```',
    '  ```sh',
    '  ./scripts/indented.sh',
    '  ```',
  ].join('\n');

  test('reads the commands of one block language, each under the heading it stands under', () => {
    expect(runbookCommands(readme)).toEqual([
      { section: 'Start', command: 'docker compose up -d' },
      { section: 'Rehearse', command: './scripts/indented.sh' },
    ]);
    expect(runbookCommands(readme, 'text')).toEqual([{ section: 'Rehearse', command: './scripts/drill.sh' }]);
  });
});

describe('service kinds', () => {
  test('each pinned image and the built Patroni image map to one kind; an unknown image is an error', async () => {
    const { IMAGES, POSTGRES_IMAGES } = await import('../../generators/app/catalog.js');
    expect(kindOf({ image: IMAGES.etcd })).toBe('etcd');
    expect(kindOf({ image: IMAGES.haproxy })).toBe('haproxy');
    expect(kindOf({ image: IMAGES.nginx })).toBe('nginx');
    expect(kindOf({ image: IMAGES.grafana('13.2.3') })).toBe('grafana-standin');
    expect(kindOf({ image: POSTGRES_IMAGES[18] })).toBe('postgres');
    expect(kindOf({ build: { context: '/x/patroni/image' }, image: 'grafana-ha-pg-1' })).toBe('patroni');
    expect(() => kindOf({ image: 'traefik:3' })).toThrow(/does not know the image traefik:3/);
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

describe('write outage of a request loop', () => {
  // Events at t (ms from the loop start), each taking 10 ms; the failure is injected at 1000 ms.
  const loop = (...events: [number, boolean][]): LoopResult => ({
    startedAt: 0,
    events: events.map(([t, ok]) => ({ t, ok, status: ok ? 200 : 500, ms: 10, instance: null })),
  });
  test('is the longest gap between acknowledgements around the failure', () => {
    expect(outageAround(loop([900, true], [1100, true], [1200, false], [2000, false], [3100, true], [3200, true]), 1000)).toBe(2000);
  });
  test('acknowledgements just after the failure do not hide the outage that follows', () => {
    expect(outageAround(loop([900, true], [1050, true], [1100, false], [4000, true]), 1000)).toBe(2950);
  });
  test('is unknown (infinite) when the loop stopped before writes came back', () => {
    expect(outageAround(loop([900, true], [1050, true], [1100, false], [1500, false]), 1000)).toBe(Infinity);
  });
});
