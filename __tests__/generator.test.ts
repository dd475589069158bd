/** The Yeoman generator end to end, through yeoman-test (the compiled generator, as `yo` loads it). */
import helpers from 'yeoman-test';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { validateAnswers } from '../generators/app/config.js';
import { applies, QUESTIONS, type Question } from '../generators/app/questions.js';
import { SECRETS } from '../generators/app/topology.js';
import { toPrompt } from '../generators/app/cli-input.js';
import { parseRecord, RECORD_FILE, sha256 } from '../generators/app/record.js';
import { cliOptions, failureOf, filesFor, freshDir, generate, GENERATOR, readTree } from './helpers/stack.js';

const YO_RC_KEY = 'generator-grafana-ha';
const secretFiles = Object.values(SECRETS).map((s) => s.file);

describe('questions', () => {
  it('shows each choice with its one-line description at the prompt, as --help describes it', () => {
    const prompt = (name: string) => toPrompt(QUESTIONS.find((q) => q.name === name)! as Question, {});
    expect(prompt('loadBalancer').choices!.map((c) => c.name)).toEqual([
      'haproxy — active health checks; drains a replica through its runtime API',
      'nginx — open source nginx: passive checks only',
    ]);
    expect(prompt('dbMode').choices!.map((c) => c.value)).toEqual(['patroni', 'single', 'external']);
    expect(prompt('dbMode').choices!.every((c) => / — .{10,}/.test(c.name))).toBe(true);
    expect(prompt('failoverProfile').choices!.map((c) => c.name)).toEqual([
      'fast — ttl 20 s, loop_wait 7 s, retry_timeout 6 s',
      'upstream — ttl 30 s, loop_wait 10 s, retry_timeout 10 s',
    ]);
  });

  it('asks every question that applies when run interactively with nothing stored', async () => {
    const result = await helpers.run(GENERATOR).withAnswers({});
    const { answers } = validateAnswers({});
    const applicable = (QUESTIONS as readonly Question[]).filter((q) => applies(q, answers)).map((q) => q.name);
    expect(result.askedQuestions.map((q) => q.name).sort()).toEqual(applicable.sort());
    expect(applicable).not.toContain('dbHost');
  });

  it('asks for the external database, its password included, and stores no password', async () => {
    const result = await helpers
      .run(GENERATOR)
      .withAnswers({ dbMode: 'external', dbHost: 'pg.internal', dbPassword: 'typed-at-the-prompt' })
      .cd(freshDir());
    const asked = result.askedQuestions.map((q) => q.name);
    expect(asked).toEqual(expect.arrayContaining(['dbHost', 'dbPort', 'dbSslMode', 'dbPassword']));
    expect(asked).not.toContain('patroniNodes');
    const tree = readTree(result.cwd);
    expect(tree['secrets/grafana-db-password']).toBe('typed-at-the-prompt');
    expect(tree['.yo-rc.json']).not.toContain('typed-at-the-prompt');
    expect(JSON.parse(tree['.yo-rc.json'])[YO_RC_KEY]).not.toHaveProperty('patroniNodes');
  });

  it('asks nothing with --defaults, and nothing for values given as options', async () => {
    const silent = await generate({});
    expect(silent.askedQuestions).toEqual([]);

    const someOptions = await helpers
      .run(GENERATOR)
      .withOptions(cliOptions({ 'grafana-replicas': 3, 'load-balancer': 'nginx' }))
      .withAnswers({});
    const asked = someOptions.askedQuestions.map((q) => q.name);
    expect(asked).not.toContain('grafanaReplicas');
    expect(asked).not.toContain('loadBalancer');
    expect(asked).toContain('patroniNodes');
  });

  it('uses prompted answers', async () => {
    const result = await helpers.run(GENERATOR).withAnswers({ grafanaReplicas: 3, loadBalancer: 'nginx' });
    expect(readFileSync(join(result.cwd, 'lb/nginx.conf'), 'utf8')).toContain('server grafana-3:3000');
    expect(existsSync(join(result.cwd, 'lb/haproxy.cfg'))).toBe(false);
  });
});

describe('what it writes', () => {
  it('writes exactly the files of the pure pipeline, plus secrets, .yo-rc.json and the record of this generation', async () => {
    const result = await generate({ 'load-balancer': 'nginx', 'grafana-replicas': 3 });
    const written = readTree(result.cwd);
    const expected = filesFor({ loadBalancer: 'nginx', grafanaReplicas: 3 });
    const { ['.yo-rc.json']: yoRc, [RECORD_FILE]: recordFile, ...rest } = written;
    for (const file of secretFiles) delete rest[file];
    expect(rest).toEqual(expected);
    const stored = JSON.parse(yoRc)[YO_RC_KEY];
    expect(stored).toMatchObject({ loadBalancer: 'nginx', grafanaReplicas: 3 });
    // The record: the same answers, and the hash of every file written (no secret among them).
    const parsed = parseRecord(recordFile);
    if ('problem' in parsed) throw new Error(parsed.problem);
    expect(parsed.record.stored).toEqual(stored);
    expect(parsed.record.files).toEqual(Object.fromEntries(Object.entries(expected).map(([path, contents]) => [path, sha256(contents)])));
  });

  it('creates random secrets in an owner-only folder, keeps them out of .yo-rc.json and git', async () => {
    const result = await generate({});
    const tree = readTree(result.cwd);
    const values = secretFiles.map((f) => tree[f]);
    expect(new Set(values).size).toBe(secretFiles.length);
    for (const [i, file] of secretFiles.entries()) {
      expect(values[i]).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Readable inside the containers (bind mounts keep the host mode), guarded by the folder.
      expect(statSync(join(result.cwd, file)).mode & 0o777).toBe(0o644);
    }
    expect(statSync(join(result.cwd, 'secrets')).mode & 0o777).toBe(0o700);
    const everythingElse = Object.entries(tree).filter(([path]) => !path.startsWith('secrets/'));
    for (const value of values) {
      for (const [path, contents] of everythingElse) expect({ path, leaked: contents.includes(value) }).toEqual({ path, leaked: false });
    }
    expect(tree['.gitignore'].split('\n')).toContain('secrets/');
  });

  it('keeps secrets byte for byte and output byte-identical on a second run', async () => {
    const first = await generate({ 'grafana-replicas': 3 });
    const before = readTree(first.cwd);
    await generate({ 'grafana-replicas': 3 }, first.cwd);
    expect(readTree(first.cwd)).toEqual(before);
  });

  it('reuses the stored answers on a re-run with --defaults', async () => {
    const first = await generate({ 'load-balancer': 'nginx', 'patroni-nodes': 4 });
    const rerun = await generate({}, first.cwd);
    expect(rerun.askedQuestions).toEqual([]);
    const compose = load(readFileSync(join(first.cwd, 'compose.yaml'), 'utf8')) as { services: Record<string, unknown> };
    expect(Object.keys(compose.services)).toContain('pg-4');
    expect(existsSync(join(first.cwd, 'lb/nginx.conf'))).toBe(true);
  });
});

describe('bad input', () => {
  it('rejects bad options with one error naming every problem, and writes nothing', async () => {
    const dir = freshDir();
    const error = await failureOf(
      helpers
        .run(GENERATOR)
        .withOptions(cliOptions({ defaults: true, 'grafana-replicas': 0, 'load-balancer': 'traefik', 'etcd-members': 2 }))
        .cd(dir),
    );
    expect(error).toMatch(/--grafana-replicas/);
    expect(error).toMatch(/--load-balancer/);
    expect(error).toMatch(/--etcd-members/);
    expect(readTree(dir)).toEqual({});
  });

  it('rejects a hand-edited .yo-rc.json the same way', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, '.yo-rc.json'), JSON.stringify({ [YO_RC_KEY]: { patroniNodes: 1, publicUrl: 'not a url', colour: 'blue' } }));
    const error = await failureOf(
      helpers
        .run(GENERATOR)
        .withOptions(cliOptions({ defaults: true }))
        .cd(dir),
    );
    expect(error).toMatch(/--patroni-nodes/);
    expect(error).toMatch(/--public-url/);
    expect(error).toMatch(/"colour"/);
    expect(Object.keys(readTree(dir))).toEqual(['.yo-rc.json']);
  });

  it('validates prompted answers too (mocked answers skip prompt validation)', async () => {
    const dir = freshDir();
    const error = await failureOf(helpers.run(GENERATOR).withAnswers({ grafanaReplicas: 42 }).cd(dir));
    expect(error).toMatch(/--grafana-replicas.*1 to 9/);
    expect(readTree(dir)).toEqual({});
  });
});
