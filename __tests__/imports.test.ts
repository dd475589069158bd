/**
 * Every module of the generator loads on its own, as the first import of a fresh Node process: an
 * import cycle (kinds/index.ts → swarm.ts → … → kinds/index.ts) breaks only the entry points that
 * enter it from the wrong side, which no other test may happen to use.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled generator, as `yo` loads it (npm test builds first). */
const DIST = fileURLToPath(new URL('../dist/generators/app/', import.meta.url));
const modules = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? modules(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );

describe('each generator module, imported first', () => {
  it.each(modules(DIST).map((f) => [relative(DIST, f), f]))('%s loads', (_name, file) => {
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(file)});`], { encoding: 'utf8' });
    expect({ status: run.status, stderr: run.stderr.split('\n').find((l) => /Error/.test(l)) ?? '' }).toEqual({ status: 0, stderr: '' });
  });
});
