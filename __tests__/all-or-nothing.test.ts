/**
 * A run writes everything or nothing: every refusal and conflict is decided before the
 * first write, and a run stopped at any step of its commit (a failed write, SIGTERM, SIGINT) leaves
 * the previous stack byte for byte, or the complete new one. Through the real `grafana-ha` bin, with
 * no terminal, as CI runs it.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseRecord, RECORD_FILE, recordText, sha256 } from '../generators/app/record.js';
import { BIN, freshDir, treeState } from './helpers/stack.js';

const runBin = (args: string[], cwd: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });

/** A stack generated with the defaults; every test works on its own copy. */
const base = freshDir();
expect(runBin(['--defaults'], base).status).toBe(0);
const copyOfBase = () => {
  const dir = freshDir();
  cpSync(base, dir, { recursive: true });
  return dir;
};

// New files (pg-4's config) are staged first; the existing ones are rewritten in place.
const GROW = ['--defaults', '--grafana-replicas', '3', '--patroni-nodes', '4', '--etcd-members', '5'];

describe('a re-run stopped at any step of its commit', () => {
  const reference = copyOfBase();
  const traced = runBin(GROW, reference, { GRAFANA_HA_FAULT: 'trace' });
  const steps = [...traced.stderr.matchAll(/commit step: (.+)$/gm)].map((m) => m[1]);
  const before = treeState(base);
  const complete = treeState(reference);

  it('has steps to stop at: staging, applying every file, the record last', () => {
    expect(traced.status).toBe(0);
    expect(steps[0]).toBe('stage patroni/pg-4.yml');
    expect(steps.filter((s) => s.startsWith('stage '))).toEqual(['stage patroni/pg-4.yml']);
    expect(steps.filter((s) => s.startsWith('apply ')).length).toBeGreaterThan(8);
    expect(steps.at(-1)).toBe(`apply ${RECORD_FILE}`);
    expect(complete).not.toEqual(before);
  });

  it.each(steps)('fails at "%s" (a full disk): exit non-zero, the stack byte for byte as before', (step) => {
    const dir = copyOfBase();
    const run = runBin(GROW, dir, { GRAFANA_HA_FAULT: `fail:${step}` });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/ENOSPC/);
    expect(treeState(dir)).toEqual(before);
  });

  it.each(
    steps.flatMap((step) => [
      ['SIGTERM', step],
      ['SIGINT', step],
    ]),
  )('%s at "%s": the commit finishes first, then the signal stops the run; the stack is the complete new one', (signal, step) => {
    const dir = copyOfBase();
    const run = runBin(GROW, dir, { GRAFANA_HA_FAULT: `${signal}:${step}` });
    expect(run.signal).toBe(signal);
    expect(treeState(dir)).toEqual(complete);
  });
});

it('rewrites a changed file in place, same inode: a running container that bind-mounts it sees the new contents on reload', () => {
  const dir = copyOfBase();
  const files = ['lb/haproxy.cfg', 'grafana/grafana.ini', 'db-router/haproxy.cfg', 'patroni/pg-1.yml', 'compose.yaml'];
  const inodes = files.map((f) => statSync(join(dir, f)).ino);
  const contents = files.map((f) => readFileSync(join(dir, f), 'utf8'));
  expect(runBin(GROW, dir).status).toBe(0);
  expect(files.map((f) => readFileSync(join(dir, f), 'utf8'))).not.toEqual(contents);
  expect(files.map((f) => statSync(join(dir, f)).ino)).toEqual(inodes);
});

describe('decided before anything is written', () => {
  it('without a terminal, a file the user edited that the run would change is one error naming it and the ways out; nothing written', () => {
    const dir = copyOfBase();
    appendFileSync(join(dir, 'lb/haproxy.cfg'), '# tuned by hand\n');
    const before = treeState(dir);
    const run = runBin(GROW, dir);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/you edited lb\/haproxy\.cfg since the last run/);
    expect(run.stderr).toMatch(/--force/);
    expect(run.stderr).toMatch(/\.yo-resolve/);
    expect(run.stderr).toMatch(/in a terminal/);
    expect(treeState(dir)).toEqual(before);
  });

  it('a .yo-resolve entry decides instead: skip keeps the edit, and the run says the change is not applied', () => {
    const dir = copyOfBase();
    appendFileSync(join(dir, 'lb/haproxy.cfg'), '# tuned by hand\n');
    writeFileSync(join(dir, '.yo-resolve'), 'lb/haproxy.cfg skip\n');
    const recordBefore = readFileSync(join(dir, RECORD_FILE), 'utf8');
    const run = runBin(GROW, dir);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/Not applied: you kept your version of lb\/haproxy\.cfg/);
    expect(run.stdout + run.stderr).not.toMatch(/Stack updated/);
    expect(readFileSync(join(dir, 'lb/haproxy.cfg'), 'utf8')).toContain('# tuned by hand');
    expect(readFileSync(join(dir, RECORD_FILE), 'utf8')).toBe(recordBefore);
  });

  it('a first run into a folder holding a compose.yaml of someone else says so before asking anything, and writes nothing', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx\n');
    const before = treeState(dir);
    const run = runBin([], dir);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/is not a grafana-ha stack \(no \.yo-rc\.json\) but already holds compose\.yaml/);
    expect(run.stdout + run.stderr).not.toMatch(/\?/);
    expect(treeState(dir)).toEqual(before);
  });

  it('--dry-run prints the plan, says that nothing was written, and writes nothing', () => {
    const dir = copyOfBase();
    const before = treeState(dir);
    const run = runBin([...GROW, '--dry-run'], dir);
    expect(run.status).toBe(0);
    // Yeoman writes its log to stderr.
    expect(run.stderr).toMatch(/services added: etcd-4, etcd-5, pg-4, grafana-3/);
    expect(run.stderr).toMatch(/Dry run: nothing was written/);
    expect(treeState(dir)).toEqual(before);
  });

  it('--dry-run of a first run writes nothing either, not even the secrets folder', () => {
    const dir = freshDir();
    const run = runBin(['--defaults', '--dry-run'], dir);
    expect(run.status).toBe(0);
    expect(treeState(dir)).toEqual({});
  });
});

describe('the record of the last complete generation', () => {
  it('a hand edit of .yo-rc.json (patroniNodes 3 → 2) meets the same refusal as the option, and nothing is written', () => {
    const dir = copyOfBase();
    const yoRc = JSON.parse(readFileSync(join(dir, '.yo-rc.json'), 'utf8'));
    yoRc['generator-grafana-ha'].patroniNodes = 2;
    writeFileSync(join(dir, '.yo-rc.json'), JSON.stringify(yoRc, null, 2));
    const before = treeState(dir);
    const run = runBin(['--defaults'], dir);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/--patroni-nodes 3 → 2/);
    expect(treeState(dir)).toEqual(before);
  });

  it('a hand-edited record is refused with what to do instead, and nothing is written', () => {
    const dir = copyOfBase();
    const record = JSON.parse(readFileSync(join(dir, RECORD_FILE), 'utf8'));
    record.stored.patroniNodes = 2;
    writeFileSync(join(dir, RECORD_FILE), JSON.stringify(record, null, 2));
    const before = treeState(dir);
    const run = runBin(['--defaults'], dir);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/\.grafana-ha-record\.json was changed by hand/);
    expect(run.stderr).toMatch(/change answers in \.yo-rc\.json/);
    expect(treeState(dir)).toEqual(before);
  });

  it('a record that does not describe this folder (copied from another stack) is refused with an explanation, nothing written', () => {
    const other = freshDir();
    expect(runBin(['--defaults', '--project-name', 'other-stack'], other).status).toBe(0);
    const dir = copyOfBase();
    cpSync(join(other, RECORD_FILE), join(dir, RECORD_FILE));
    const before = treeState(dir);
    const run = runBin(['--defaults'], dir);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/describes the project "other-stack", but compose\.yaml here is the project "grafana-ha"/);
    expect(treeState(dir)).toEqual(before);
  });

  it('tells a file an older generator wrote from a user edit: one the user never touched is replaced without a question', () => {
    // As if an older generator had written another README: the record holds that file's hash.
    const dir = copyOfBase();
    const olderReadme = '# written by an older generator-grafana-ha\n';
    writeFileSync(join(dir, 'README.md'), olderReadme);
    const parsed = parseRecord(readFileSync(join(dir, RECORD_FILE), 'utf8'));
    if ('problem' in parsed) throw new Error(parsed.problem);
    writeFileSync(
      join(dir, RECORD_FILE),
      recordText({ ...parsed.record, generator: '0.0.1', files: { ...parsed.record.files, 'README.md': sha256(olderReadme) } }),
    );
    const run = runBin(['--defaults'], dir);
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/files changed: README\.md\n/);
    expect(run.stderr).not.toMatch(/edited|conflict/i);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe(readFileSync(join(base, 'README.md'), 'utf8'));
  });

  it('leftovers of a run killed while staging are not part of the stack, and the next run removes them', () => {
    const dir = copyOfBase();
    mkdirSync(join(dir, '.grafana-ha-staging-dead'));
    writeFileSync(join(dir, '.grafana-ha-staging-dead/new-0'), 'half');
    expect(runBin(GROW, dir).status).toBe(0);
    expect(Object.keys(treeState(dir)).filter((p) => p.startsWith('.grafana-ha-staging'))).toEqual([]);
  });
});
