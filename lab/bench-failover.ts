/**
 * Failover benchmark (npm run bench:failover): runs generated stacks on the
 * test engine (started here when it is not running, stopped afterwards) and
 * prints, per failover profile and load balancer, the median of
 * BENCH_RUNS runs (default 3) of:
 *  - write outage seen through Grafana after the primary is SIGKILLed / stopped,
 *  - acknowledged writes lost (sum over all runs),
 *  - Grafana replica SIGKILLed: failed requests, seconds until the LB stops
 *    sending it traffic (HAProxy stats; nginx has passive checks only), seconds
 *    until it serves again after a restart.
 * Every run is bounded in time; the lab cleans up on any exit. Beside the new
 * figures it prints the last ones the namespace lab (the Compose imitation this
 * lab replaced) measured, for comparison.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { engineRunning, engineUnavailableReason, startEngine, stopEngine } from './engine.js';
import { generateStack } from './generate.js';
import { DISK_FULL_VOLUME_MB, DRILLS_ON_A_SYNC_STACK, DRILLS_ON_THEIR_OWN_STACK, type DrillResult } from './drills.js';
import { grafanaReplicaLoss, plannedReplicaRestarts, primaryLoss, waitClusterSettled } from './scenarios.js';
import { labUnavailableReason, StackLab } from './stack-lab.js';
import { HOST_LOSS_DRILLS, hostLoss, labSwarmStack, runSwarmReadme, type HostLossResult } from './swarm-stack.js';
import { SwarmLab } from './swarm.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** The failure drills (lab/drills.ts) run this many times per cell (0: none); each takes a minute or two. */
const DRILL_RUNS = Number(process.env.BENCH_DRILL_RUNS ?? 1);
const profiles = (process.env.BENCH_PROFILES ?? 'fast,upstream').split(',') as ('fast' | 'upstream')[];
/** Runs of each host-loss drill on a three-node swarm (0: none). */
const SWARM_RUNS = Number(process.env.BENCH_SWARM_RUNS ?? 1);
const balancers = (process.env.BENCH_LBS ?? 'haproxy,nginx').split(',') as ('haproxy' | 'nginx')[];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (i: number) => s[i] ?? NaN;
  return s.length ? (s.length % 2 ? at((s.length - 1) / 2) : (at(s.length / 2 - 1) + at(s.length / 2)) / 2) : NaN;
};
const fmt = (x: number | null | undefined, unit = ' s') =>
  x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${x.toFixed(1)}${unit}`;

interface Column {
  name: string;
  killOutage: number[];
  stopOutage: number[];
  lost: number;
  acked: number;
  failedRequests: number[];
  lbDetect: (number | null)[];
  backIn: number[];
  /** Writes beside the replica kills: failed (in flight at the kill) and duplicated (replayed). */
  killWritesFailed: number;
  killWritesAcked: number;
  /** Every replica recreated through the rotation script: failed requests of all kinds, per run. */
  plannedFailed: number[];
  plannedRequests: number;
  /** Seconds per replica for out → recreate → in. */
  plannedPerReplica: number[];
  duplicated: number;
  drills: DrillResult[];
}

async function measure(profile: 'fast' | 'upstream', loadBalancer: 'haproxy' | 'nginx'): Promise<Column> {
  const dir = generateStack({ loadBalancer, failoverProfile: profile, synchronousReplication: true });
  const dcs = (load(readFileSync(join(dir, 'patroni/pg-1.yml'), 'utf8')) as any).bootstrap.dcs;
  timings.set(profile, `ttl ${dcs.ttl} / loop_wait ${dcs.loop_wait} / retry_timeout ${dcs.retry_timeout}`);
  const col: Column = {
    name: `${profile} / ${loadBalancer}`,
    killOutage: [],
    stopOutage: [],
    lost: 0,
    acked: 0,
    failedRequests: [],
    lbDetect: [],
    backIn: [],
    killWritesFailed: 0,
    killWritesAcked: 0,
    plannedFailed: [],
    plannedRequests: 0,
    plannedPerReplica: [],
    duplicated: 0,
    drills: [],
  };
  const lab = await StackLab.start(dir, { removeStackDir: true });
  try {
    await waitClusterSettled(lab, { sync: true });
    for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
    for (let run = 1; run <= RUNS; run++) {
      for (const how of ['kill', 'stop'] as const) {
        const r = await primaryLoss(lab, how, true);
        (how === 'kill' ? col.killOutage : col.stopOutage).push(r.outageMs / 1000);
        col.lost += r.lost.length;
        col.acked += r.acked;
        console.error(`${col.name} run ${run} ${how}: outage ${(r.outageMs / 1000).toFixed(1)} s, lost ${r.lost.length}/${r.acked}`);
      }
      const g = await grafanaReplicaLoss(lab, `grafana-${1 + ((run - 1) % lab.services('grafana-standin').length)}`);
      col.failedRequests.push(g.failedRequests);
      col.lbDetect.push(g.lbDetectS);
      col.backIn.push(g.backInServiceS);
      col.killWritesFailed += g.writes.failed;
      col.killWritesAcked += g.writes.acked;
      console.error(
        `${col.name} run ${run} grafana kill: ${g.failedRequests}/${g.requests} failed, detect ${fmt(g.lbDetectS)}, back in ${fmt(g.backInServiceS)}; writes ${g.writes.failed} failed of ${g.writes.acked + g.writes.failed}`,
      );
      const p = await plannedReplicaRestarts(lab);
      const failed = p.reads.failed + p.writes.failed + p.slowWrites.failed + p.commands.filter((c) => c.code !== 0).length;
      col.plannedFailed.push(failed);
      col.plannedRequests += p.reads.total + p.writes.acked + p.writes.failed + p.slowWrites.acked + p.slowWrites.failed;
      const replicas = lab.services('grafana-standin').length;
      col.plannedPerReplica.push(p.commands.reduce((sum, c) => sum + c.seconds, 0) / replicas);
      col.duplicated = p.duplicated.length; // the stand-ins' whole history: every earlier scenario included
      console.error(`${col.name} run ${run} planned restarts: ${failed} failed, ${p.duplicated.length} duplicated so far`);
    }
    for (let run = 1; run <= DRILL_RUNS; run++) {
      for (const drill of DRILLS_ON_A_SYNC_STACK) col.drills.push(logged(col, run, await drill(lab)));
    }
  } finally {
    lab.destroy();
  }
  for (const { drill, synchronousReplication, prepare } of DRILL_RUNS > 0 ? DRILLS_ON_THEIR_OWN_STACK : []) {
    const own = generateStack({ loadBalancer, failoverProfile: profile, synchronousReplication });
    prepare?.(own);
    const ownLab = await StackLab.start(own, { removeStackDir: true });
    try {
      await waitClusterSettled(ownLab, { sync: synchronousReplication });
      for (let run = 1; run <= DRILL_RUNS; run++) col.drills.push(logged(col, run, await drill(ownLab)));
    } finally {
      ownLab.destroy();
    }
  }
  return col;
}

function logged(col: Column, run: number, d: DrillResult): DrillResult {
  console.error(
    `${col.name} drill run ${run}: ${d.drill}: ${d.outcome}; outage ${fmt(d.writeOutageMs / 1000)}; lost ${d.lost.length}, two primaries ${d.twoPrimarySamples}, to a replica ${d.routedToReplica}`,
  );
  return d;
}

const engineProblem = engineUnavailableReason();
const startedEngine = !engineProblem && !engineRunning();
const enginePid = startedEngine ? startEngine() : undefined;
process.on('exit', () => enginePid !== undefined && stopEngine(enginePid));
const reason = labUnavailableReason();
if (reason) {
  console.error(`bench:failover cannot run: ${reason}`);
  process.exit(1);
}
const columns: Column[] = [];
const timings = new Map<string, string>();
if (RUNS > 0 || DRILL_RUNS > 0) for (const profile of profiles) for (const lb of balancers) columns.push(await measure(profile, lb));

const rows: [string, string, (c: Column) => string][] = [
  ['write outage, primary SIGKILL (median)', '≤ 22 s (fast)', (c) => fmt(median(c.killOutage))],
  ['write outage, primary graceful stop (median)', '≤ 5 s', (c) => fmt(median(c.stopOutage))],
  ['acknowledged writes lost (all runs)', '0', (c) => `${c.lost} of ${c.acked}`],
  ['Grafana replica SIGKILL: failed requests (max)', '0', (c) => String(Math.max(...c.failedRequests))],
  [
    '… LB stops sending it traffic after (median)',
    '',
    (c) => (c.lbDetect.every((x) => x === null) ? 'n/a (passive)' : fmt(median(c.lbDetect.filter((x): x is number => x !== null)))),
  ],
  ['… serves again after restart (median)', '', (c) => fmt(median(c.backIn))],
  [
    '… writes in flight at the kill that failed (all runs)',
    'counted',
    (c) => `${c.killWritesFailed} of ${c.killWritesAcked + c.killWritesFailed}`,
  ],
  [
    'planned restart of every replica (lb-rotation out/in): failed requests (max)',
    '0',
    (c) => `${Math.max(...c.plannedFailed)} (of ${c.plannedRequests})`,
  ],
  ['… time per replica, out → recreated → in (median)', '', (c) => fmt(median(c.plannedPerReplica))],
  ['requests written twice (replayed), all scenarios', '0', (c) => String(c.duplicated)],
];
const header = ['metric', 'target', ...columns.map((c) => c.name)];
const table = [header, header.map(() => '---'), ...rows.map(([m, t, f]) => [m, t, ...columns.map(f)])];
if (columns.length > 0) {
  console.log(
    `\nFailover benchmark on the real Docker Engine: ${RUNS} run(s) per cell, synchronous replication, 3 Patroni nodes, 3 etcd, 2 Grafana stand-ins.`,
  );
  console.log(`${[...timings].map(([p, t]) => `${p}: ${t}`).join('; ')} (from the generated patroni/pg-1.yml).\n`);
}
// BENCH_RUNS=0 runs the drills alone.
if (RUNS > 0) for (const line of table) console.log(`| ${line.join(' | ')} |`);

if (DRILL_RUNS > 0) {
  const names = [...new Set(columns.flatMap((c) => c.drills.map((d) => d.drill)))];
  console.log(
    `\nFailure drills (lab/drills.ts), ${DRILL_RUNS} run(s) per cell (the disk-full drill on ${DISK_FULL_VOLUME_MB} MB tmpfs data volumes, the far-behind one with asynchronous replication): write outage (median), and lost / two-primary / routed-to-a-replica counts over all runs.\n`,
  );
  console.log(`| drill | what the stack did (${columns[0]?.name}) | ${columns.map((c) => c.name).join(' | ')} |`);
  console.log(`| ${['---', '---', ...columns.map(() => '---')].join(' | ')} |`);
  for (const name of names) {
    const cell = (c: Column) => {
      const runs = c.drills.filter((d) => d.drill === name);
      const sum = (f: (d: DrillResult) => number) => runs.reduce((n, d) => n + f(d), 0);
      return `${fmt(median(runs.map((d) => d.writeOutageMs / 1000)))}; ${sum((d) => d.lost.length)} / ${sum((d) => d.twoPrimarySamples)} / ${sum((d) => d.routedToReplica)}`;
    };
    console.log(`| ${name} | ${columns[0]?.drills.find((d) => d.drill === name)?.outcome ?? ''} | ${columns.map(cell).join(' | ')} |`);
  }
}

// The namespace lab's figures (npm run bench:failover, 2026-11-27, same cells, 3 runs each), before the
// lab moved onto the real engine: printed beside the new ones so the move's effect shows.
const NAMESPACE_LAB: Record<string, string[]> = {
  'write outage, primary SIGKILL (median)': ['18.0 s', '18.1 s', '23.7 s', '31.6 s'],
  'write outage, primary graceful stop (median)': ['3.6 s', '3.8 s', '3.6 s', '3.8 s'],
  'acknowledged writes lost (all runs)': ['0 of 859', '0 of 873', '0 of 898', '0 of 866'],
  'Grafana replica SIGKILL: failed requests (max)': ['0', '0', '0', '0'],
  '… LB stops sending it traffic after (median)': ['5.7 s', 'n/a (passive)', '5.8 s', 'n/a (passive)'],
  '… serves again after restart (median)': ['2.1 s', '2.3 s', '2.3 s', '3.7 s'],
};
const OLD_CELLS = ['fast / haproxy', 'fast / nginx', 'upstream / haproxy', 'upstream / nginx'];
const shown = OLD_CELLS.map((c, i) => [c, i] as const).filter(([c]) => RUNS > 0 && columns.some((col) => col.name === c));
if (shown.length > 0) {
  console.log('\nThe same cells on the namespace lab (2026-11-27), for comparison:\n');
  console.log(`| ${['metric', ...shown.map(([c]) => c)].join(' | ')} |`);
  console.log(`| ${['metric', ...shown].map(() => '---').join(' | ')} |`);
  for (const [metric, values] of Object.entries(NAMESPACE_LAB))
    console.log(`| ${[metric, ...shown.map(([, i]) => values[i])].join(' | ')} |`);
}

/** The swarm target: whole hosts lost, on three engines in namespaces of their own (lab/swarm.sh). */
async function hostLosses(): Promise<Map<string, HostLossResult[]>> {
  const swarm = await SwarmLab.start(3);
  try {
    await swarm.waitAllReady();
    const { dir, stack } = labSwarmStack(swarm);
    const failed = (await runSwarmReadme(swarm, dir)).filter((r) => r.code !== 0);
    if (failed.length > 0) throw new Error(`the swarm README's commands failed: ${JSON.stringify(failed)}`);
    await stack.waitSettled();
    const results = new Map<string, HostLossResult[]>();
    for (let run = 1; run <= SWARM_RUNS; run++) {
      for (const drill of HOST_LOSS_DRILLS) {
        const node = await drill.host(stack);
        const r = await hostLoss(stack, node, drill.how);
        console.error(
          `swarm run ${run}: ${drill.name} (node${node}): ${fmt(r.writeOutageMs / 1000)}, ${r.failedWrites} failed, ${r.lost.length} lost`,
        );
        results.set(drill.name, [...(results.get(drill.name) ?? []), r]);
      }
    }
    return results;
  } finally {
    swarm.destroy();
  }
}

if (SWARM_RUNS > 0) {
  const results = await hostLosses();
  console.log(
    `\nHost loss on the swarm target (3 hosts, each a Docker Engine in a network namespace; haproxy, fast profile, synchronous replication), ${SWARM_RUNS} run(s) each; the client knows both load balancers (DNS with two A records) and tries the other when one does not answer.\n`,
  );
  console.log('| host lost | write outage (median / max) | failed writes (all runs) | acked writes lost | two-primary samples |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, runs] of results) {
    const sum = (f: (r: HostLossResult) => number) => runs.reduce((n, r) => n + f(r), 0);
    const outages = runs.map((r) => r.writeOutageMs / 1000);
    console.log(
      `| ${name} | ${fmt(median(outages))} / ${fmt(Math.max(...outages))} | ${sum((r) => r.failedWrites)} of ${sum((r) => r.acked + r.failedWrites)} | ${sum((r) => r.lost.length)} | ${sum((r) => r.twoPrimarySamples)} |`,
    );
  }
}
