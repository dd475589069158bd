/**
 * Failover benchmark (npm run bench:failover): runs generated stacks on the test engine (started
 * here when it is not running, stopped afterwards) and prints, per cell (a timing setup × a load
 * balancer), the median and maximum over BENCH_RUNS runs (default 5) of:
 *  - write outage seen through Grafana after the primary is SIGKILLed, stopped, switched over;
 *  - acknowledged writes lost (sum over all runs);
 *  - Grafana replica SIGKILLed: failed requests, the slowest request from the kill on, seconds
 *    until the LB stops sending it traffic (HAProxy stats; nginx has passive checks only), seconds
 *    until it serves again after a restart;
 *  - with BENCH_PLANNED (default 1), every replica restarted through the LB rotation script.
 * Cells: `fast` (the generated stack as is), `upstream` (the generated upstream profile), and
 * `baseline`: Patroni's upstream timings with the LB and DB router at HAProxy's / nginx's defaults,
 * which the fast cells are reported against as ratios. For the first graceful stop and switchover
 * of each cell it prints a timeline from the Patroni, PostgreSQL and DB router logs.
 * Every run is bounded in time; the lab cleans up on any exit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { engineRunning, engineUnavailableReason, startEngine, stopEngine } from './engine.js';
import { generateStack } from './generate.js';
import { DISK_FULL_VOLUME_MB, DRILLS_ON_A_SYNC_STACK, DRILLS_ON_THEIR_OWN_STACK, type DrillResult } from './drills.js';
import { grafanaReplicaLoss, plannedReplicaRestarts, primaryLoss, waitClusterSettled, type PrimaryLoss } from './scenarios.js';
import { labUnavailableReason, StackLab } from './stack-lab.js';
import { HOST_LOSS_DRILLS, hostLoss, labSwarmStack, runSwarmReadme, type HostLossResult } from './swarm-stack.js';
import { SwarmLab } from './swarm.js';

type Setup = 'fast' | 'upstream' | 'baseline';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** The failure drills (lab/drills.ts) run this many times per cell (0: none); each takes a minute or two. */
const DRILL_RUNS = Number(process.env.BENCH_DRILL_RUNS ?? 1);
const PLANNED = process.env.BENCH_PLANNED !== '0';
const setups = (process.env.BENCH_PROFILES ?? 'fast,baseline').split(',') as Setup[];
/** Runs of each host-loss drill on a three-node swarm (0: none). */
const SWARM_RUNS = Number(process.env.BENCH_SWARM_RUNS ?? 1);
const balancers = (process.env.BENCH_LBS ?? 'haproxy,nginx').split(',') as ('haproxy' | 'nginx')[];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (i: number) => s[i] ?? NaN;
  return s.length ? (s.length % 2 ? at((s.length - 1) / 2) : (at(s.length / 2 - 1) + at(s.length / 2)) / 2) : NaN;
};
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
const fmt = (x: number | null | undefined, unit = ' s') =>
  x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${x.toFixed(1)}${unit}`;
const medMax = (xs: number[]) => `${fmt(median(xs))} / ${fmt(max(xs))}`;

/**
 * The baseline: what the same stack does with each program's own defaults. Edits the generated
 * files (lab only); every edit must apply, or the baseline would silently be the tuned stack.
 */
const DEFAULTS: Record<string, [RegExp, string][]> = {
  // HAProxy has no default connect timeout (it warns without one); 5s is its documentation's. Checks: inter 2s, rise 2, fall 3.
  'lb/haproxy.cfg': [
    [/timeout connect \S+/, 'timeout connect 5s'],
    [/ inter 2s fastinter 500ms downinter 2s rise 2 fall 2 observe layer4 error-limit 1 on-error mark-down/, ' inter 2s rise 2 fall 3'],
  ],
  'lb/nginx.conf': [
    [/proxy_connect_timeout \S+;/, 'proxy_connect_timeout 60s;'],
    [/max_fails=1 fail_timeout=5s/g, 'max_fails=1 fail_timeout=10s'],
  ],
  'db-router/haproxy.cfg': [
    [/timeout connect \S+/, 'timeout connect 5s'],
    [/\n *http-check expect ! rstring '"state": [^\n]*/, ''],
    [/ inter 500ms fastinter 200ms downinter 200ms rise 1 fall 2 /, ' inter 2s rise 2 fall 3 '],
    [/\n *timeout check \S+/, ''],
  ],
};

function withProgramDefaults(dir: string, loadBalancer: 'haproxy' | 'nginx'): void {
  for (const [file, edits] of Object.entries(DEFAULTS)) {
    if (file.startsWith('lb/') && !file.includes(loadBalancer)) continue;
    let text = readFileSync(join(dir, file), 'utf8');
    for (const [from, to] of edits) {
      if (!from.test(text)) throw new Error(`baseline: ${from} not found in ${file}: the generated file changed, update DEFAULTS`);
      text = text.replace(from, to);
    }
    writeFileSync(join(dir, file), text);
  }
}

/** Log lines of the database tier from `at` on, as offsets: what happened, in order, during one failover. */
async function timeline(lab: StackLab, at: number, untilMs: number): Promise<string[]> {
  const services = [...lab.services('patroni'), 'db-router'];
  const r = await lab.composeTry(['logs', '-t', '--no-color', '--since', new Date(at - 500).toISOString(), ...services]);
  const interesting =
    /shut ?down|promot|leader|lock|demot|checkpoint|switchover|is (UP|DOWN)|failover|starting as a|received .* request|terminating|archiv/i;
  return r.stdout
    .split('\n')
    .map((line) => /^(\S+)\s+\|\s+(\S+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null && interesting.test(m[3]!))
    .map((m) => ({ t: Date.parse(m[2]!) - at, service: m[1]!, text: m[3]!.slice(0, 160) }))
    .filter((e) => e.t >= -500 && e.t <= untilMs)
    .sort((a, b) => a.t - b.t)
    .slice(0, 40)
    .map((e) => `${(e.t / 1000).toFixed(3).padStart(7)} s  ${e.service}: ${e.text}`);
}

interface Column {
  name: string;
  setup: Setup;
  loadBalancer: 'haproxy' | 'nginx';
  outage: Record<PrimaryLoss, number[]>;
  lost: number;
  acked: number;
  failedRequests: number[];
  slowestS: number[];
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
  timelines: string[];
}

async function measure(setup: Setup, loadBalancer: 'haproxy' | 'nginx'): Promise<Column> {
  const dir = generateStack({ loadBalancer, failoverProfile: setup === 'fast' ? 'fast' : 'upstream', synchronousReplication: true });
  if (setup === 'baseline') withProgramDefaults(dir, loadBalancer);
  const dcs = (load(readFileSync(join(dir, 'patroni/pg-1.yml'), 'utf8')) as any).bootstrap.dcs;
  // Run k fails the primary (k - 1) / RUNS of a loop_wait later than run 1: the kills sample every
  // phase of the leader's key refresh, as failures in the field do, instead of one phase RUNS times.
  const steadyMs = (run: number) => 2000 + Math.round(((run - 1) / RUNS) * Number(dcs.loop_wait) * 1000);
  timings.set(setup, `ttl ${dcs.ttl} / loop_wait ${dcs.loop_wait} / retry_timeout ${dcs.retry_timeout}`);
  const col: Column = {
    name: `${setup} / ${loadBalancer}`,
    setup,
    loadBalancer,
    outage: { kill: [], stop: [], switchover: [] },
    lost: 0,
    acked: 0,
    failedRequests: [],
    slowestS: [],
    lbDetect: [],
    backIn: [],
    killWritesFailed: 0,
    killWritesAcked: 0,
    plannedFailed: [],
    plannedRequests: 0,
    plannedPerReplica: [],
    duplicated: 0,
    drills: [],
    timelines: [],
  };
  // The baseline is a yardstick: the planned restarts and drills are about this stack's own settings.
  const extras = setup !== 'baseline';
  const lab = await StackLab.start(dir, { removeStackDir: true });
  try {
    await waitClusterSettled(lab, { sync: true });
    for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
    for (let run = 1; run <= RUNS; run++) {
      for (const how of ['kill', 'stop', 'switchover'] as const) {
        const r = await primaryLoss(lab, how, true, lab, steadyMs(run));
        col.outage[how].push(r.outageMs / 1000);
        col.lost += r.lost.length;
        col.acked += r.acked;
        console.error(`${col.name} run ${run} ${how}: outage ${(r.outageMs / 1000).toFixed(1)} s, lost ${r.lost.length}/${r.acked}`);
        if (run === 1 && how !== 'kill') {
          const lines = await timeline(lab, r.failedAt, r.outageMs + 1000);
          col.timelines.push(`${col.name}, ${how} of ${r.oldLeader} (write outage ${(r.outageMs / 1000).toFixed(2)} s):`, ...lines, '');
        }
      }
      const g = await grafanaReplicaLoss(lab, `grafana-${1 + ((run - 1) % lab.services('grafana-standin').length)}`);
      col.failedRequests.push(g.failedRequests);
      col.slowestS.push(g.slowestMs / 1000);
      col.lbDetect.push(g.lbDetectS);
      col.backIn.push(g.backInServiceS);
      col.killWritesFailed += g.writes.failed;
      col.killWritesAcked += g.writes.acked;
      console.error(
        `${col.name} run ${run} grafana kill: ${g.failedRequests}/${g.requests} failed, slowest ${g.slowestMs} ms, detect ${fmt(g.lbDetectS)}, back in ${fmt(g.backInServiceS)}; writes ${g.writes.failed} failed of ${g.writes.acked + g.writes.failed}`,
      );
      if (!PLANNED || !extras) continue;
      const p = await plannedReplicaRestarts(lab);
      const failed = p.reads.failed + p.writes.failed + p.slowWrites.failed + p.commands.filter((c) => c.code !== 0).length;
      col.plannedFailed.push(failed);
      col.plannedRequests += p.reads.total + p.writes.acked + p.writes.failed + p.slowWrites.acked + p.slowWrites.failed;
      const replicas = lab.services('grafana-standin').length;
      col.plannedPerReplica.push(p.commands.reduce((sum, c) => sum + c.seconds, 0) / replicas);
      col.duplicated = p.duplicated.length; // the stand-ins' whole history: every earlier scenario included
      console.error(`${col.name} run ${run} planned restarts: ${failed} failed, ${p.duplicated.length} duplicated so far`);
    }
    for (let run = 1; extras && run <= DRILL_RUNS; run++) {
      for (const drill of DRILLS_ON_A_SYNC_STACK) col.drills.push(logged(col, run, await drill(lab)));
    }
  } finally {
    lab.destroy();
  }
  for (const { drill, synchronousReplication, prepare } of extras && DRILL_RUNS > 0 ? DRILLS_ON_THEIR_OWN_STACK : []) {
    const own = generateStack({ loadBalancer, failoverProfile: setup === 'fast' ? 'fast' : 'upstream', synchronousReplication });
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
if (RUNS > 0 || DRILL_RUNS > 0) for (const setup of setups) for (const lb of balancers) columns.push(await measure(setup, lb));

const rows: [string, string, (c: Column) => string][] = [
  ['write outage, primary SIGKILL (median / max)', '≤ 18 s / ≤ 21 s', (c) => medMax(c.outage.kill)],
  ['write outage, primary graceful stop (median / max)', '≤ 2.0 s median', (c) => medMax(c.outage.stop)],
  ['write outage, patronictl switchover (median / max)', '≤ 2.0 s median', (c) => medMax(c.outage.switchover)],
  ['acknowledged writes lost (all runs)', '0', (c) => `${c.lost} of ${c.acked}`],
  ['Grafana replica SIGKILL: failed requests (max)', '0', (c) => String(max(c.failedRequests))],
  ['… slowest request from the kill on (median / max)', '≤ 0.5 s max', (c) => medMax(c.slowestS)],
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
    (c) => (c.plannedFailed.length ? `${max(c.plannedFailed)} (of ${c.plannedRequests})` : 'not run'),
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
  console.log(
    `${[...timings].map(([p, t]) => `${p}: ${t}`).join('; ')} (from the generated patroni/pg-1.yml; baseline: upstream, LB and DB router at HAProxy's / nginx's defaults).\n`,
  );
}
// BENCH_RUNS=0 runs the drills alone.
if (RUNS > 0) for (const line of table) console.log(`| ${line.join(' | ')} |`);

/** Each fast cell against the baseline cell of its load balancer: tuned ÷ defaults (below 1: shorter). */
const ratios: [string, (c: Column) => number][] = [
  ['primary SIGKILL, median outage', (c) => median(c.outage.kill)],
  ['primary SIGKILL, max outage', (c) => max(c.outage.kill)],
  ['graceful stop, median outage', (c) => median(c.outage.stop)],
  ['switchover, median outage', (c) => median(c.outage.switchover)],
  ['replica SIGKILL, slowest request (max)', (c) => max(c.slowestS)],
];
const pairs = columns
  .filter((c) => c.setup === 'fast')
  .map((c) => [c, columns.find((b) => b.setup === 'baseline' && b.loadBalancer === c.loadBalancer)] as const)
  .filter((p): p is readonly [Column, Column] => p[1] !== undefined);
if (RUNS > 0 && pairs.length > 0) {
  console.log('\nThe generated stack against the baseline, measured in this run (fast ÷ baseline; below 1 is shorter):\n');
  console.log(`| metric | ${pairs.map(([c]) => c.loadBalancer).join(' | ')} |`);
  console.log(`| --- | ${pairs.map(() => '---').join(' | ')} |`);
  for (const [metric, f] of ratios) console.log(`| ${metric} | ${pairs.map(([c, b]) => (f(c) / f(b)).toFixed(2)).join(' | ')} |`);
}
const timelines = columns.flatMap((c) => c.timelines);
if (timelines.length > 0)
  console.log(`\nTimelines of the first graceful stop and switchover (seconds from the stop):\n\n${timelines.join('\n')}`);

if (DRILL_RUNS > 0) {
  const drilled = columns.filter((c) => c.drills.length > 0);
  const names = [...new Set(drilled.flatMap((c) => c.drills.map((d) => d.drill)))];
  console.log(
    `\nFailure drills (lab/drills.ts), ${DRILL_RUNS} run(s) per cell (the disk-full drill on ${DISK_FULL_VOLUME_MB} MB tmpfs data volumes, the far-behind one with asynchronous replication): write outage (median), and lost / two-primary / routed-to-a-replica counts over all runs.\n`,
  );
  console.log(`| drill | what the stack did (${drilled[0]?.name}) | ${drilled.map((c) => c.name).join(' | ')} |`);
  console.log(`| ${['---', '---', ...drilled.map(() => '---')].join(' | ')} |`);
  for (const name of names) {
    const cell = (c: Column) => {
      const runs = c.drills.filter((d) => d.drill === name);
      const sum = (f: (d: DrillResult) => number) => runs.reduce((n, d) => n + f(d), 0);
      return `${fmt(median(runs.map((d) => d.writeOutageMs / 1000)))}; ${sum((d) => d.lost.length)} / ${sum((d) => d.twoPrimarySamples)} / ${sum((d) => d.routedToReplica)}`;
    };
    console.log(`| ${name} | ${drilled[0]?.drills.find((d) => d.drill === name)?.outcome ?? ''} | ${drilled.map(cell).join(' | ')} |`);
  }
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
