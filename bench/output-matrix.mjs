// Prints every file the generator writes, and the re-run plans between neighbouring answers, for the
// whole answer matrix: one line per file (cell, path, mode, sha256), then each plan in full. Two
// builds produce the same text exactly when their output is byte-identical, so a refactor is checked
// with `node bench/output-matrix.mjs > before.txt`, the change, `npm run build`, then the same into
// after.txt and `diff before.txt after.txt`. Pure: nothing is written to disk.
import { createHash } from 'node:crypto';
import { validateAnswers } from '../dist/generators/app/config.js';
import { describePlan, planChange } from '../dist/generators/app/plan.js';
import { renderStack } from '../dist/generators/app/render/index.js';
import { buildTopology } from '../dist/generators/app/topology.js';

const CA = new URL('../__tests__/fixtures/test-ca.crt', import.meta.url).pathname;

/** Every combination that changes what is written (sizes at their edges and one middle value). */
function* cells() {
  for (const loadBalancer of ['haproxy', 'nginx'])
    for (const grafanaReplicas of [1, 2, 3]) {
      const common = { loadBalancer, grafanaReplicas };
      for (const patroniNodes of [2, 3])
        for (const etcdMembers of [1, 3])
          for (const synchronousReplication of [true, false])
            for (const failoverProfile of ['fast', 'upstream'])
              for (const postgresMajor of [17, 18])
                yield { ...common, dbMode: 'patroni', patroniNodes, etcdMembers, synchronousReplication, failoverProfile, postgresMajor };
      for (const postgresMajor of [17, 18]) yield { ...common, dbMode: 'single', postgresMajor };
      for (const dbSslMode of ['require', 'verify-full', 'disable'])
        yield {
          ...common,
          dbMode: 'external',
          dbHost: 'db.example.com',
          dbPort: 6432,
          dbSslMode,
          ...(dbSslMode === 'verify-full' ? { dbCaFile: CA } : {}),
        };
    }
  yield { projectName: 'other', httpPort: 9090, publicUrl: 'https://grafana.example.com/sub', grafanaVersion: '12.4.0' };
}

const topology = (raw, stored = false) => {
  const { answers, history } = validateAnswers(raw, { stored });
  return buildTopology(answers, history);
};
const sha = (text) => createHash('sha256').update(text).digest('hex');
const label = (raw) =>
  Object.entries(raw)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || 'defaults';

for (const raw of cells()) {
  for (const f of renderStack(topology(raw))) console.log(`${label(raw)} ${f.path} ${(f.mode ?? 0o644).toString(8)} ${sha(f.contents)}`);
}

// Re-runs: one answer changed at a time from the defaults (and a stored stack of before records).
const CHANGES = [
  { grafanaReplicas: 3 },
  { grafanaReplicas: 1 },
  { patroniNodes: 5 },
  { patroniNodes: 2 },
  { etcdMembers: 5 },
  { etcdMembers: 1 },
  { loadBalancer: 'nginx' },
  { synchronousReplication: false },
  { failoverProfile: 'upstream' },
  { postgresMajor: 17 },
  { dbMode: 'single' },
  { dbMode: 'external', dbHost: 'db.example.com' },
  { projectName: 'renamed' },
  { grafanaVersion: '13.3.0' },
  { httpPort: 9090 },
];
for (const from of [{}, { loadBalancer: 'nginx', grafanaReplicas: 1 }, { dbMode: 'single' }]) {
  const before = topology(from, true);
  const beforeFiles = new Map(renderStack(before).map((f) => [f.path, f.contents]));
  for (const change of CHANGES) {
    const after = topology({ ...from, ...change });
    const changed = renderStack(after)
      .filter((f) => beforeFiles.get(f.path) !== f.contents)
      .map((f) => f.path);
    console.log(`\n## re-run ${label(from)} → ${label(change)}\n${describePlan(planChange(before, after, changed))}`);
  }
}
