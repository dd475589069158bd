/**
 * The two ways users start the generator: `yo grafana-ha` (Yeoman's lookup must
 * find the package) and the package's own `grafana-ha` bin, which also works
 * as root, where `yo` refuses to run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEnv } from 'yeoman-environment';
import { QUESTIONS } from '../generators/app/questions.js';
import { BIN, freshDir, readTree } from './helpers/stack.js';

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const runBin = (args: string[], cwd = freshDir()) => ({
  cwd,
  ...spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
});

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
    expect(secrets).toHaveLength(7);
    for (const [, value] of secrets) expect(run.stdout + run.stderr).not.toContain(value);
  });

  it('exits non-zero on bad options, names them all, and writes nothing', () => {
    const run = runBin(['--defaults', '--grafana-replicas', '0', '--etcd-members', '4']);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/--grafana-replicas/);
    expect(run.stderr).toMatch(/--etcd-members/);
    expect(readTree(run.cwd)).toEqual({});
  });

  it('prints its version with --version', () => {
    const run = runBin(['--version']);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version);
  });

  it('shows each default in --help', () => {
    const help = runBin(['--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toMatch(/--grafana-replicas <value> .*?\(default: 2\)/);
    expect(help).toMatch(/--load-balancer <value> .*?\[haproxy\|nginx\] \(default: haproxy\)/);
    expect(help).toMatch(/--public-url <value> .*?\(default: http:\/\/localhost:<http-port>\/\)/);
  });

  it('writes no colour codes into a pipe, labels warnings as warnings, and ends with where the admin password and the runbook are', () => {
    const run = runBin(['--defaults', '--grafana-replicas', '1']);
    const output = run.stdout + run.stderr;
    expect(run.status).toBe(0);
    expect(output).not.toContain('\u001b[');
    expect(output).toMatch(/^warning 1 Grafana replica is not highly available/m);
    expect(output).not.toMatch(/conflict/);
    expect(output).toMatch(/the password is in secrets\/grafana-admin-password/);
    expect(output).toMatch(/README\.md in this folder is the runbook/);
  });

  it('warns, but generates, when this machine has no Docker Engine with Compose v2', () => {
    const cwd = freshDir();
    const run = spawnSync(process.execPath, [BIN, '--defaults'], { cwd, encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' } });
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/^warning Docker Engine with Compose v2 \(`docker compose`\) was not found on this machine/m);
    expect(existsSync(join(cwd, 'compose.yaml'))).toBe(true);
  });

  it("names every problem without Yeoman's own 'error occured while running' line", () => {
    const run = runBin(['--defaults', '--db-host', 'pg.example.com', '--grafana-replicas', '0']);
    expect(run.status).toBe(1);
    expect(run.stderr).not.toMatch(/error occured while running/);
    expect(run.stderr).toMatch(/--grafana-replicas[\s\S]*--db-host: does not apply to this stack/);
  });

  it('refuses an empty password file, and a password file that is a folder, with a clear message', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'blank'), '   \nsecond line\n');
    const external = ['--defaults', '--db-mode', 'external', '--db-host', 'pg.example.com'];
    const blank = runBin([...external, '--db-password-file', join(dir, 'blank')]);
    expect(blank.status).toBe(1);
    expect(blank.stderr).toMatch(/--db-password-file .*blank: its first line, the password, is empty \(or only blanks\)/);
    const folder = runBin([...external, '--db-password-file', dir]);
    expect(folder.status).toBe(1);
    expect(folder.stderr).toMatch(
      /--db-password-file: must be a readable file whose first line is the password \(.* is not a regular file\)/,
    );
    expect(folder.stderr).not.toMatch(/EISDIR/);
  });

  it('documents every question and the conflict flags in --help', () => {
    const run = runBin(['--help']);
    expect(run.status).toBe(0);
    for (const q of QUESTIONS) expect(run.stdout).toContain(`--${q.option}`);
    for (const flag of ['--defaults', '--force', '--dry-run', '--bail', '--skip-yo-resolve']) expect(run.stdout).toContain(flag);
  });
});
