/**
 * The two ways users start the generator: `yo grafana-ha` (Yeoman's lookup must
 * find the package) and the package's own `grafana-ha` bin, which also works
 * as root, where `yo` refuses to run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnv } from 'yeoman-environment';
import { QUESTIONS } from '../generators/app/questions.js';
import { BIN, freshDir, readTree } from './helpers/stack.js';

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const runBin = (args: string[], cwd = freshDir()) => ({ cwd, ...spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) });

it('is found by Yeoman’s lookup as grafana-ha:app, the way `yo grafana-ha` finds it', async () => {
  // As `npm install -g generator-grafana-ha` lays it out.
  const nodeModules = join(freshDir(), 'node_modules');
  mkdirSync(nodeModules);
  symlinkSync(PACKAGE_ROOT, join(nodeModules, 'generator-grafana-ha'));
  const env = createEnv();
  await env.lookup({ npmPaths: [nodeModules] });
  expect(env.getGeneratorNames()).toContain('grafana-ha');
  expect(env.getGeneratorsMeta()['grafana-ha:app'].resolved).toMatch(/generators\/app\/index\.js$/);
});

describe('the grafana-ha bin', () => {
  it(`generates a stack with no terminal, as ${process.getuid?.() === 0 ? 'root' : 'this user'}`, () => {
    const run = runBin(['--defaults', '--load-balancer', 'nginx', '--grafana-replicas', '3', '--synchronous-replication', 'false']);
    expect(run.status).toBe(0);
    expect(existsSync(join(run.cwd, 'lb/nginx.conf'))).toBe(true);
    expect(readTree(run.cwd)['lb/nginx.conf']).toContain('grafana-3:3000');
    expect(readTree(run.cwd)['patroni/pg-1.yml']).toContain('synchronous_mode: false');
  });

  it('never prints a secret', () => {
    const run = runBin(['--defaults']);
    const secrets = Object.entries(readTree(run.cwd)).filter(([path]) => path.startsWith('secrets/'));
    expect(secrets).toHaveLength(6);
    for (const [, value] of secrets) expect(run.stdout + run.stderr).not.toContain(value);
  });

  it('exits non-zero on bad options, names them all, and writes nothing', () => {
    const run = runBin(['--defaults', '--grafana-replicas', '0', '--etcd-members', '4']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--grafana-replicas/);
    expect(run.stderr).toMatch(/--etcd-members/);
    expect(readTree(run.cwd)).toEqual({});
  });

  it('documents every question and the conflict flags in --help', () => {
    const run = runBin(['--help']);
    expect(run.status).toBe(0);
    for (const q of QUESTIONS) expect(run.stdout).toContain(`--${q.option}`);
    for (const flag of ['--defaults', '--force', '--dry-run', '--bail', '--skip-yo-resolve']) expect(run.stdout).toContain(flag);
  });
});
