/**
 * Failure scenarios as plain functions, shared by the jest suite (which
 * asserts invariants) and the benchmark (which reports timings). Each one
 * leaves the stack as it found it: every service running, cluster settled.
 */
import { replicaRestartCommands } from '../generators/app/commands.js';
import {
  ackedIds,
  cluster,
  duplicateWrites,
  failures,
  httpRequest,
  leaderName,
  outageAround,
  pgQuery,
  startLoop,
  waitClusterSettled,
  type LoopResult,
} from './clients.js';
import { withEngine } from './engine.js';
import { runShell, sleep, waitFor } from './shell.js';
import type { StackLab } from './stack-lab.js';

export interface PrimaryLossResult {
  oldLeader: string;
  newLeader: string;
  /** Longest time without an acknowledged write around the failure. */
  outageMs: number;
  acked: number;
  /** Acknowledged ids missing on the new primary. */
  lost: number[];
  writer: LoopResult;
  /** When the primary was killed, stopped or asked to switch over (epoch ms). */
  failedAt: number;
  /** Role of the old primary after it was started again. */
  oldLeaderRoleAfterRejoin: string;
}

/** Acknowledged ids that the current primary does not have. */
export async function missingOnPrimary(lab: StackLab, ids: number[]): Promise<number[]> {
  const leader = await waitFor('a leader', () => leaderName(lab), 60_000);
  const rows = await pgQuery<{ id: string }>(lab, leader, `SELECT id FROM standin_writes WHERE id = ANY('{${ids.join(',')}}'::bigint[])`);
  const present = new Set(rows.map((r) => Number(r.id)));
  return ids.filter((id) => !present.has(id));
}

/**
 * Kills (`docker compose kill -s SIGKILL`), stops (`docker compose stop`) or switches over the primary under a steady
 * writer going through the Grafana stand-ins. `db` is the lab that runs the database (another Compose
 * project when the stack uses an external database).
 */
/** kill: SIGKILL; stop: a graceful stop (docker stop); switchover: `patronictl switchover --force` in the primary. */
export type PrimaryLoss = 'kill' | 'stop' | 'switchover';

async function losePrimary(db: StackLab, leader: string, how: PrimaryLoss): Promise<void> {
  if (how === 'kill') return db.kill(leader);
  if (how === 'stop') return db.stop(leader);
  const r = await db.exec(leader, ['patronictl', 'switchover', '--force'], { timeoutMs: 60_000 });
  // patronictl exits 0 on a refused switchover too: its output says which happened.
  if (r.code !== 0 || !r.stdout.includes('Successfully switched over'))
    throw new Error(`patronictl switchover in ${leader}: ${r.stdout}${r.stderr}`);
}

/** The loop has run `ms` since its last failed request, and acknowledged a request in that time. */
function steadyFor(writer: LoopResult, ms: number): boolean {
  const since = Date.now() - writer.startedAt - ms;
  const recent = writer.events.filter((e) => e.t >= since);
  const failuresEndedAt = writer.events.filter((e) => !e.ok).map((e) => e.t + e.ms);
  return recent.some((e) => e.ok) && failuresEndedAt.every((t) => t < since);
}

/**
 * `steadyMs`: how long the writer runs before the failure. A SIGKILL's outage depends on where the
 * primary was in its HA loop (its key expires ttl after its last refresh), so the bench spreads
 * this over one loop_wait instead of failing the primary at the same phase every run.
 */
export async function primaryLoss(
  lab: StackLab,
  how: PrimaryLoss,
  sync: boolean,
  db: StackLab = lab,
  steadyMs = 2000,
): Promise<PrimaryLossResult> {
  const oldLeader = await waitFor('a leader', () => leaderName(db), 60_000);
  const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', maxMs: 120_000 });
  let failedAt = 0;
  let newLeader: string;
  try {
    await sleep(steadyMs);
    failedAt = Date.now();
    await losePrimary(db, oldLeader, how);
    newLeader = await waitFor(
      'a new leader',
      async () => {
        const l = await leaderName(db).catch(() => undefined);
        return l && l !== oldLeader ? l : undefined;
      },
      90_000,
      200,
    );
    // A write sent after the new leader showed up and acknowledged: the outage is over. (Writes
    // acknowledged between the failure and the old primary actually going down do not count.)
    const leaderSeenAt = Date.now();
    await waitFor('writes to resume', async () => writer.events.some((e) => e.ok && e.t + writer.startedAt >= leaderSeenAt), 60_000, 100);
    // Then 2 s without a failed write: writes that fail again after the first one count as part of
    // the outage instead of ending the loop in the middle of it.
    await waitFor('2 s of writes without a failure', async () => steadyFor(writer, 2000), 60_000, 200);
  } finally {
    await writer.stop(); // also when a wait above fails: no loop outlives its scenario
  }
  const result = await writer.stop();
  const ids = ackedIds(result);
  const lost = await missingOnPrimary(db, ids);
  if (how !== 'switchover') await db.startService(oldLeader);
  const members = await waitClusterSettled(db, { sync });
  return {
    oldLeader,
    newLeader,
    outageMs: outageAround(result, failedAt),
    failedAt,
    acked: ids.length,
    lost,
    writer: result,
    oldLeaderRoleAfterRejoin: members.find((m) => m.name === oldLeader)!.role,
  };
}

export interface ReplicaLossResult {
  failedRequests: number;
  requests: number;
  /** HAProxy: seconds from the kill until its stats show the replica DOWN (null for nginx: passive checks only). */
  lbDetectS: number | null;
  /** Seconds from the restart until a request through the LB is answered by the restarted replica. */
  backInServiceS: number;
  /** Requests slower than 500 ms (a retry on another replica shows up as latency, not as an error). */
  slowRequests: number;
  /** The slowest request sent from the kill on (a request that met the dead replica waited for the LB's connect timeout). */
  slowestMs: number;
  /** The first few failures, with their time relative to the kill (for the report when one happens). */
  failureSamples: string[];
  /** A writer ran beside the reads: a write in flight at the kill may fail, none may be written twice. */
  writes: { acked: number; failed: number };
  /** Request keys written more than once (replayed requests), over the whole stack's history. */
  duplicated: string[];
}

/**
 * HAProxy's stats as CSV rows, read inside its container the way the README tells operators to
 * (the DB router's page listens on loopback only; the image has no curl).
 */
export async function haproxyStats(lab: StackLab, haproxy: string): Promise<string[][]> {
  const get = 'exec 3<>/dev/tcp/127.0.0.1/8404 && printf "GET /stats;csv HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3';
  const r = await lab.exec(haproxy, ['bash', '-c', get], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`stats of ${haproxy}: ${r.stderr}`);
  return r.stdout.split('\n').map((l) => l.split(','));
}

/** HAProxy's status of one server (UP, DOWN, MAINT…). */
export async function haproxyServerStatus(lab: StackLab, haproxy: string, server: string, backend?: string): Promise<string | undefined> {
  return (await haproxyStats(lab, haproxy)).find((f) => f[1] === server && (!backend || f[0] === backend))?.[17];
}

/** Requests through the LB until every Grafana replica has answered one. */
export async function waitEveryReplicaServes(lab: StackLab, timeoutMs = 60_000): Promise<void> {
  const replicas = lab.services('grafana-standin');
  const seen = new Set<string>();
  await waitFor(
    'every replica to answer through the LB',
    async () => {
      const r = await httpRequest(lab.published(), 'GET', '/api/standin/ping', 2000);
      if (r.status === 200 && r.instance) seen.add(await lab.serviceOfHostname(r.instance));
      return replicas.every((g) => seen.has(g));
    },
    timeoutMs,
    50,
  );
}

/** Kills one Grafana replica under a steady request stream through the load balancer, then restarts it. */
export async function grafanaReplicaLoss(lab: StackLab, replica = 'grafana-1'): Promise<ReplicaLossResult> {
  const lb = lab.lb;
  const isHaproxy = lab.kind(lb) === 'haproxy';
  // Start from a stack that serves: every replica answers through the LB (HAProxy needs `rise`
  // passing checks after a start before it sends a replica traffic).
  await waitEveryReplicaServes(lab);
  const stream = startLoop(lab, { method: 'GET', path: '/api/standin/ping', pauseMs: 10, maxMs: 90_000 });
  const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 20, maxMs: 90_000 });
  try {
    const result = await replicaLossUnderStream(lab, lb, isHaproxy, replica, stream);
    const writes = await writer.stop();
    return {
      ...result,
      writes: { acked: ackedIds(writes).length, failed: failures(writes).length },
      duplicated: await duplicateWrites(lab),
    };
  } finally {
    await Promise.all([stream.stop(), writer.stop()]);
  }
}

export interface PlannedRestartResult {
  /** Every command run, with its exit code (and output when it failed). */
  commands: { command: string; code: number; seconds: number; output: string }[];
  reads: { total: number; failed: number };
  writes: { acked: number; failed: number };
  /** Writes held 700 ms between COMMIT and the answer: some are in flight whenever a replica stops. */
  slowWrites: { acked: number; failed: number };
  duplicated: string[];
  failureSamples: string[];
}

/**
 * Recreates every Grafana replica, one at a time, the way the plan and the README do it: out of the
 * load balancer's rotation, recreated and healthy, back in. Under a reader, a writer and slow writes.
 */
type Loop = ReturnType<typeof startLoop>;

export async function plannedReplicaRestarts(lab: StackLab): Promise<PlannedRestartResult> {
  await waitEveryReplicaServes(lab);
  const loops: [Loop, Loop, Loop] = [
    startLoop(lab, { method: 'GET', path: '/api/standin/ping', pauseMs: 10, maxMs: 240_000 }),
    startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 20, maxMs: 240_000 }),
    startLoop(lab, { method: 'POST', path: '/api/standin/writes?hold_ms=700', pauseMs: 0, maxMs: 240_000 }),
  ];
  const commands: PlannedRestartResult['commands'] = [];
  try {
    await sleep(2000);
    for (const replica of lab.services('grafana-standin')) {
      for (const command of replicaRestartCommands(replica)) {
        const r = await runShell(command, lab.dir, withEngine());
        commands.push({ command, code: r.code, seconds: r.ms / 1000, output: r.code === 0 ? '' : r.output });
      }
    }
    lab.refresh();
    await sleep(2000);
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
  }
  const [reads, writes, slow] = await Promise.all([loops[0].stop(), loops[1].stop(), loops[2].stop()]);
  const count = (r: LoopResult) => ({ acked: ackedIds(r).length, failed: failures(r).length });
  return {
    commands,
    reads: { total: reads.events.length, failed: failures(reads).length },
    writes: count(writes),
    slowWrites: count(slow),
    duplicated: await duplicateWrites(lab),
    failureSamples: [reads, writes, slow]
      .flatMap((r) => failures(r).map((e) => `${(e.t / 1000).toFixed(1)} s: ${e.status} ${e.error ?? ''}`.trim()))
      .slice(0, 5),
  };
}

async function replicaLossUnderStream(
  lab: StackLab,
  lb: string,
  isHaproxy: boolean,
  replica: string,
  stream: ReturnType<typeof startLoop>,
): Promise<Omit<ReplicaLossResult, 'writes' | 'duplicated'>> {
  await sleep(3000);
  const killedAt = Date.now();
  await lab.kill(replica);
  let lbDetectS: number | null = null;
  if (isHaproxy) {
    await waitFor(
      'the LB to mark the replica down',
      async () => (await haproxyServerStatus(lab, lb, replica))?.startsWith('DOWN'),
      30_000,
      100,
    );
    lbDetectS = (Date.now() - killedAt) / 1000;
  }
  await sleep(Math.max(0, killedAt + 10_000 - Date.now()));
  const restartedAt = Date.now();
  await lab.startService(replica);
  await waitFor(
    `${replica} to answer through the LB again`,
    async () => stream.events.some((e) => e.instance === replica && e.t + stream.startedAt > restartedAt),
    60_000,
    100,
  );
  const backInServiceS =
    (stream.events.find((e) => e.instance === replica && e.t + stream.startedAt > restartedAt)!.t + stream.startedAt - restartedAt) / 1000;
  await sleep(2000);
  const result = await stream.stop();
  return {
    failedRequests: failures(result).length,
    requests: result.events.length,
    lbDetectS,
    backInServiceS,
    slowRequests: result.events.filter((e) => e.ms > 500).length,
    slowestMs: Math.max(0, ...result.events.filter((e) => e.t + result.startedAt + e.ms >= killedAt).map((e) => e.ms)),
    failureSamples: failures(result)
      .slice(0, 5)
      .map((e) => `${((e.t + result.startedAt - killedAt) / 1000).toFixed(2)}s after kill: ${e.status} ${e.error ?? ''}`.trim()),
  };
}

export { cluster, leaderName, waitClusterSettled };
