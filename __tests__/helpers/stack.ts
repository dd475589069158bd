/** Shared by the tests: generate a stack in memory or on disk, and read it back. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import helpers from 'yeoman-test';
import { validateAnswers } from '../../generators/app/config.js';
import type { Answers } from '../../generators/app/questions.js';
import { renderStack } from '../../generators/app/render/index.js';
import { buildTopology } from '../../generators/app/topology.js';

/** A CA certificate (public part only, its key thrown away) for the verify-full tests. */
export const TEST_CA_FILE = fileURLToPath(new URL('../fixtures/test-ca.crt', import.meta.url));

/** The compiled generator, exactly as `yo` loads it (npm test builds first). */
export const GENERATOR = fileURLToPath(new URL('../../generators/app/index.js', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/grafana-ha.js', import.meta.url));

/** Answer sets covering every kind with 1 and 3 Grafana replicas, and 2 and 3 Patroni nodes. */
export const ANSWER_MATRIX: Partial<Answers>[] = [];
for (const loadBalancer of ['haproxy', 'nginx'] as const) {
  for (const grafanaReplicas of [1, 3]) {
    for (const patroniNodes of [2, 3]) ANSWER_MATRIX.push({ loadBalancer, grafanaReplicas, patroniNodes });
  }
  ANSWER_MATRIX.push({ loadBalancer, dbMode: 'single' }, { loadBalancer, dbMode: 'external', dbHost: 'pg.example.com' });
}

/** The swarm target over both load balancers and every database mode that runs in the stack. */
export const SWARM_CELLS: Partial<Answers>[] = [
  { deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/team' },
  { deployTarget: 'swarm', imageRegistry: 'registry.example.com', loadBalancer: 'nginx', dbMode: 'single', mirrorImages: true },
  { deployTarget: 'swarm', imageRegistry: 'registry.example.com', dbMode: 'external', dbHost: 'pg.example.com', overlayEncryption: false },
];

export const topologyFor = (raw: Partial<Answers> = {}) => buildTopology(validateAnswers(raw).answers);

/** The pure pipeline's files as a path → contents map. */
export const filesFor = (raw: Partial<Answers> = {}) => Object.fromEntries(renderStack(topologyFor(raw)).map((f) => [f.path, f.contents]));

/** Every file under `dir` as a path → contents map (paths relative, sorted). */
export function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out[relative(dir, path)] = readFileSync(path, 'utf8');
    }
  };
  walk(dir);
  return out;
}

/** Every file and folder under `dir` with its mode and a hash of its contents: equal states are byte for byte equal. */
export function treeState(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const stat = statSync(path);
      const mode = (stat.mode & 0o7777).toString(8);
      if (stat.isDirectory()) {
        out[`${relative(dir, path)}/`] = mode;
        walk(path);
      } else out[relative(dir, path)] = `${mode} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`;
    }
  };
  walk(dir);
  return out;
}

/** Writes the pure pipeline's files for `raw` into a fresh folder. */
export function writeStack(raw: Partial<Answers> = {}): string {
  const dir = freshDir();
  for (const [path, contents] of Object.entries(filesFor(raw))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), contents);
  }
  return dir;
}

/** yeoman-test types options as Yeoman's own; ours (`--grafana-replicas`, `--defaults`…) are declared by the generator. */
export const cliOptions = (options: Record<string, unknown>) => options as Parameters<ReturnType<typeof helpers.run>['withOptions']>[0];

export const freshDir = (prefix = 'ggha-') => mkdtempSync(join(tmpdir(), prefix));

/**
 * Runs the real generator with options only (as CI would), in `cwd` or a fresh
 * folder of our own (yeoman-test deletes its own temporary folders on the next run).
 */
export const generate = (options: Record<string, unknown>, cwd = freshDir()) =>
  helpers
    .run(GENERATOR)
    .withOptions(cliOptions({ defaults: true, ...options }))
    .cd(cwd);

/** The error message a run ends with, or undefined when it succeeds. */
export async function failureOf(run: PromiseLike<unknown>): Promise<string | undefined> {
  try {
    await run;
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}
