// Times a whole default generation, as a user runs it: a fresh process of the
// grafana-ha bin with --defaults in an empty folder. Prints each run and the median.
// Usage: npm run bench:generate [-- RUNS]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/grafana-ha.js', import.meta.url));
const runs = Number(process.argv[2] ?? 9);

const listFiles = (dir, root = dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path, root) : [relative(root, path)];
  });

const times = [];
let files = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'ggha-bench-'));
  const start = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [bin, '--defaults'], { cwd: dir, stdio: 'ignore' });
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
  if (run.status !== 0) throw new Error(`generation failed with status ${run.status}`);
  files = listFiles(dir).sort();
  rmSync(dir, { recursive: true, force: true });
}
const sorted = [...times].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)];
console.log(`files written by \`grafana-ha --defaults\` (${files.length}):\n  ${files.join('\n  ')}`);
console.log(`runs (ms): ${times.map((t) => t.toFixed(0)).join(' ')}`);
console.log(`median of ${runs} whole-process default generations: ${median.toFixed(0)} ms`);
