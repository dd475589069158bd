/**
 * Failure drills of a mature PostgreSQL HA distribution, as plain functions shared by
 * the jest suite (which asserts the invariants) and the benchmark (which reports the figures).
 * Each runs under a writer through Grafana's DB endpoint and a reader through the load balancer,
 * and watches every PostgreSQL node directly, as a client that bypasses the DB router would:
 *  - acknowledged writes lost (must be 0);
 *  - moments when two nodes acknowledged a direct write (must be 0: never two primaries);
 *  - writes the router handed to a replica ("read-only transaction", must be 0).
 * Each drill leaves the stack as it found it: every node running, the cluster settled.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import pg from 'pg';
import {
  cluster,
  failures,
  httpRequest,
  leaderName,
  outageAround,
  pgQuery,
  startLoop,
  waitClusterSettled,
  type LoopResult,
} from './clients.js';
import { missingOnPrimary } from './scenarios.js';
import { sleep, waitFor } from './shell.js';
import type { StackLab } from './stack-lab.js';

export interface DrillResult {
  drill: string;
  /** What the stack did, in words, from what was observed. */
  outcome: string;
  leaderBefore: string;
  leaderAfter: string;
  /** Longest time without an acknowledged write through Grafana around the fault. */
  writeOutageMs: number;
  acked: number;
  lost: number[];
  failedWrites: number;
  /** Writer failures saying the router sent the write to a replica. */
  routedToReplica: number;
  /** Samples (every 500 ms) in which two or more nodes acknowledged a direct write. */
  twoPrimarySamples: number;
  /** Reads through the load balancer (GET /api/health) that failed: reported, not asserted. */
  failedReads: number;
  reads: number;
  /** Drill-specific observations (what Patroni's REST API answered, …). */
  notes: string[];
}

/** Patroni's own process, and the postmaster it starts (its children are `postgres: …` backends). */
export const PATRONI_PROCESS = /\/patroni\s/;
export const POSTMASTER_PROCESS = /\/bin\/postgres -D /;

const PROBE_TABLE = 'drill_probe';

/** A direct write to one node, acknowledged within `timeoutMs` or not; never waits longer. */
async function directWriteAcknowledged(lab: StackLab, node: string, host: string, timeoutMs = 1500): Promise<boolean> {
  const client = new pg.Client({
    host,
    port: 5432,
    user: 'postgres',
    password: lab.secret('postgres-superuser-password'),
    database: 'postgres',
    connectionTimeoutMillis: 1000,
  });
  client.on('error', () => {});
  const attempt = (async () => {
    await client.connect();
    const [{ pg_is_in_recovery: inRecovery }] = (await client.query('SELECT pg_is_in_recovery()')).rows;
    if (inRecovery) return false;
    // No statement_timeout: cancelling a commit's wait for the sync standby would still commit it
    // locally and report success. The client gives up instead, unacknowledged.
    await client.query(`INSERT INTO ${PROBE_TABLE} (node) VALUES ($1)`, [node]);
    return true;
  })();
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs));
  try {
    return await Promise.race([attempt.catch(() => false), timer]);
  } finally {
    // Never waited for: a hanging connect or commit is simply dropped.
    void client.end().catch(() => {});
  }
}

/** Samples every node twice a second until stopped: how often did two of them take a write? */
function watchPrimaries(lab: StackLab) {
  let stopped = false;
  let twoPrimarySamples = 0;
  let samples = 0;
  const done = (async () => {
    while (!stopped) {
      const started = Date.now();
      // Looked up each time: a node killed and started again may come back on another address.
      const accepted = await Promise.all(
        lab.services('patroni').map(async (n) => {
          try {
            return await directWriteAcknowledged(lab, n, await lab.address(n));
          } catch {
            return false; // stopped: no address, no write
          }
        }),
      );
      samples++;
      if (accepted.filter(Boolean).length >= 2) twoPrimarySamples++;
      await sleep(Math.max(0, 500 - (Date.now() - started)));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return { twoPrimarySamples, samples };
    },
  };
}

interface Fault {
  /** Injects the fault; resolves with when it happened (epoch ms). */
  inject: (leader: string) => Promise<number>;
  /** Waits for what the stack does about it, then heals it; returns what was seen, and when it healed the fault (epoch ms). */
  ride: (leader: string, at: number) => Promise<{ outcome: string; notes: string[]; healedAt?: number }>;
}

async function underLoad(lab: StackLab, drill: string, fault: Fault): Promise<DrillResult> {
  const leaderBefore = await waitFor('a leader', () => leaderName(lab), 60_000);
  // Settled again means as before: with a sync standby if the stack had one.
  const sync = (await cluster(lab)).some((m) => m.role === 'sync_standby');
  await pgQuery(
    lab,
    leaderBefore,
    `CREATE TABLE IF NOT EXISTS ${PROBE_TABLE} (id bigserial PRIMARY KEY, node text, at timestamptz DEFAULT now())`,
    5432,
    'postgres',
  );
  const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 20, maxMs: 240_000 });
  const reader = startLoop(lab, { method: 'GET', path: '/api/health', pauseMs: 50, maxMs: 240_000 });
  const primaries = watchPrimaries(lab);
  let at = 0;
  let seen: { outcome: string; notes: string[]; healedAt?: number };
  let writes: LoopResult;
  let reads: LoopResult;
  let watched: { twoPrimarySamples: number };
  try {
    await sleep(2000);
    at = await fault.inject(leaderBefore);
    seen = await fault.ride(leaderBefore, at);
    await waitClusterSettled(lab, { sync, timeoutMs: 180_000 });
    await waitFor(
      'writes to flow again',
      async () => writer.events.some((e) => e.ok && e.t + writer.startedAt > Date.now() - 1000),
      60_000,
      200,
    );
    await sleep(2000);
  } finally {
    watched = await primaries.stop();
    writes = await writer.stop();
    reads = await reader.stop();
  }
  const acked = writes.events.filter((e) => e.ok && e.id !== undefined).map((e) => e.id!);
  const writeErrors = [...new Set(failures(writes).map((e) => e.error ?? `HTTP ${e.status}`))];
  // How long the stack itself took once the drill let go of the fault.
  const { healedAt } = seen;
  const acknowledgedAt = writes.events.filter((e) => e.ok).map((e) => writes.startedAt + e.t + e.ms);
  const resumed = healedAt === undefined ? undefined : Math.min(...acknowledgedAt.filter((t) => t > healedAt));
  const resumedNote =
    resumed !== undefined && Number.isFinite(resumed)
      ? [`writes through Grafana resumed ${((resumed - healedAt!) / 1000).toFixed(1)} s after the drill healed the fault`]
      : [];
  return {
    drill,
    outcome: seen.outcome,
    leaderBefore,
    leaderAfter: (await leaderName(lab)) ?? 'none',
    writeOutageMs: outageAround(writes, at),
    acked: acked.length,
    lost: await missingOnPrimary(lab, acked),
    failedWrites: failures(writes).length,
    routedToReplica: failures(writes).filter((e) => /read-only transaction/.test(e.error ?? '')).length,
    twoPrimarySamples: watched.twoPrimarySamples,
    failedReads: failures(reads).length,
    reads: reads.events.length,
    notes: [...seen.notes, ...resumedNote, ...writeErrors.slice(0, 2).map((e) => `a failed write said: ${e}`)],
  };
}

/** Injects a signal into the primary's matching processes (Patroni or the postmaster) alone. */
const signalOnLeader = (lab: StackLab, match: RegExp, signal: NodeJS.Signals) => async (leader: string) => {
  await lab.signalProcesses(leader, match, signal);
  return Date.now();
};

const newLeader = (lab: StackLab, old: string, timeoutMs: number) =>
  waitFor(
    `a leader other than ${old}`,
    async () => {
      const l = await leaderName(lab).catch(() => undefined);
      return l && l !== old ? l : undefined;
    },
    timeoutMs,
    200,
  );

/** Patroni's REST API status for a path on one node, or the error (a frozen process does not answer). */
async function restStatus(lab: StackLab, node: string, path: string): Promise<string> {
  try {
    return String((await httpRequest(await lab.target(node, 8008), 'GET', path, 2000)).status);
  } catch (e) {
    return `no answer (${(e as Error).message})`;
  }
}

/** PostgreSQL's postmaster SIGKILLed inside the primary; Patroni stays alive. */
export const postgresCrash = (lab: StackLab) =>
  underLoad(lab, 'PostgreSQL crashes on the primary (postmaster SIGKILL, Patroni alive)', {
    inject: signalOnLeader(lab, POSTMASTER_PROCESS, 'SIGKILL'),
    ride: async (leader, at) => {
      const back = await waitFor(
        'a running leader again',
        async () => {
          const members = await cluster(lab).catch(() => []);
          const l = members.find((m) => m.role === 'leader' && m.state === 'running');
          return l && (await lab.processes(l.name, POSTMASTER_PROCESS)).length > 0 ? l.name : undefined;
        },
        120_000,
        250,
      );
      const seconds = ((Date.now() - at) / 1000).toFixed(1);
      return {
        outcome:
          back === leader
            ? `Patroni restarted PostgreSQL in place: ${leader} stayed the leader (running again after ${seconds} s)`
            : `failover to ${back} after ${seconds} s`,
        notes: [],
      };
    },
  });

/**
 * Patroni SIGSTOPped on the primary, PostgreSQL running: the "zombie" a watchdog would reboot on
 * bare metal (containers have none). Held frozen until 10 s after a replica took over, then thawed.
 */
export const patroniFrozen = (lab: StackLab) =>
  underLoad(lab, 'Patroni frozen on the primary (SIGSTOP), PostgreSQL running', {
    inject: signalOnLeader(lab, PATRONI_PROCESS, 'SIGSTOP'),
    ride: async (leader, at) => {
      const notes: string[] = [];
      try {
        const promoted = await newLeader(lab, leader, 90_000);
        const promotedAt = Date.now();
        notes.push(`${promoted} promoted ${((promotedAt - at) / 1000).toFixed(1)} s after the freeze`);
        await sleep(10_000);
        // What the zombie's PostgreSQL (still running, still a primary to itself) took after the promotion.
        const [row] = await pgQuery<{ n: string }>(
          lab,
          leader,
          `SELECT count(*) AS n FROM standin_writes WHERE at > to_timestamp(${promotedAt / 1000})`,
        );
        const n = row?.n;
        notes.push(`Grafana writes committed on the frozen ${leader} after the promotion: ${n}`);
        if (Number(n) !== 0) throw new Error(`the zombie ${leader} took ${n} Grafana writes after ${promoted} was promoted`);
      } finally {
        await lab.signalProcesses(leader, PATRONI_PROCESS, 'SIGCONT');
      }
      const members = await waitClusterSettled(lab, { timeoutMs: 180_000 });
      const role = members.find((m) => m.name === leader)?.role;
      return { outcome: `failover; after the thaw ${leader} rejoined as ${role}`, notes };
    },
  });

/** The postmaster SIGSTOPped on the primary (its backends and Patroni run on) for 30 s, then thawed. */
export const postmasterFrozen = (lab: StackLab) =>
  underLoad(lab, 'PostgreSQL frozen on the primary (postmaster SIGSTOP, 30 s), Patroni running', {
    inject: signalOnLeader(lab, POSTMASTER_PROCESS, 'SIGSTOP'),
    ride: async (leader) => {
      const notes: string[] = [];
      let leaderDuring: string | undefined;
      try {
        await sleep(10_000);
        notes.push(`after 10 s Patroni's REST API on ${leader} answers /primary: ${await restStatus(lab, leader, '/primary')}`);
        await sleep(20_000);
        leaderDuring = await leaderName(lab).catch(() => undefined);
        notes.push(`after 30 s the leader is ${leaderDuring ?? 'none'}`);
      } finally {
        await lab.signalProcesses(leader, POSTMASTER_PROCESS, 'SIGCONT');
      }
      const healedAt = Date.now();
      return {
        outcome:
          leaderDuring === leader
            ? `no failover: ${leader} kept the leader key; new connections waited for the thaw`
            : `failover to ${leaderDuring}`,
        notes,
        healedAt,
      };
    },
  });

/**
 * A client holds every connection Grafana's role can get on the primary for 15 s (superuser slots
 * stay reserved for Patroni), then lets go.
 */
export function connectionsExhausted(lab: StackLab): Promise<DrillResult> {
  const hogs: pg.Client[] = [];
  let refusal = '';
  return underLoad(lab, 'connections exhausted on the primary (a client holds every non-reserved slot, 15 s)', {
    inject: async (leader) => {
      const host = await lab.address(leader);
      for (let i = 0; i < 400 && !refusal; i++) {
        const client = new pg.Client({
          host,
          port: 5432,
          user: 'grafana',
          password: lab.secret('grafana-db-password'),
          database: 'grafana',
          connectionTimeoutMillis: 3000,
        });
        client.on('error', () => {});
        try {
          await client.connect();
          hogs.push(client);
        } catch (e) {
          refusal = (e as Error).message;
        }
      }
      return Date.now();
    },
    ride: async (leader) => {
      const notes = [`the client got ${hogs.length} connections, then: ${refusal || 'no refusal'}`];
      try {
        await sleep(7_000);
        notes.push(`meanwhile Patroni's REST API on ${leader} answers /primary: ${await restStatus(lab, leader, '/primary')}`);
        const members = await cluster(lab);
        notes.push(
          `replicas streaming: ${
            members
              .filter((m) => m.state === 'streaming')
              .map((m) => m.name)
              .join(', ') || 'none'
          }`,
        );
        await sleep(8_000);
      } finally {
        await Promise.all(hogs.map((c) => c.end().catch(() => {})));
      }
      const healedAt = Date.now();
      const after = await leaderName(lab);
      return { outcome: after === leader ? `no failover: ${leader} kept the leader key` : `failover to ${after}`, notes, healedAt };
    },
  });
}

/**
 * The synchronous standby's container frozen (`docker compose pause`: every process, its disk I/O
 * included, as a hung disk would): the primary's commits wait for it until Patroni names another
 * standby. Thawed 10 s after writes resume.
 */
export function syncStandbyFrozen(lab: StackLab): Promise<DrillResult> {
  let standby = '';
  return underLoad(lab, 'the synchronous standby hangs (container frozen, as on a hung disk)', {
    inject: async () => {
      standby = (await cluster(lab)).find((m) => m.role === 'sync_standby')?.name ?? '';
      if (!standby) throw new Error('no sync standby to freeze');
      await lab.pause(standby);
      return Date.now();
    },
    ride: async (_leader, at) => {
      const notes: string[] = [];
      try {
        const replacement = await waitFor(
          'another sync standby',
          async () => {
            const s = (await cluster(lab).catch(() => [])).find((m) => m.role === 'sync_standby' && m.name !== standby);
            return s?.name;
          },
          120_000,
          250,
        );
        notes.push(`${replacement} became the sync standby ${((Date.now() - at) / 1000).toFixed(1)} s after ${standby} froze`);
        await sleep(10_000);
      } finally {
        await lab.unpause(standby);
      }
      return { outcome: `Patroni replaced the frozen sync standby ${standby}; commits waited until then`, notes };
    },
  });
}

/**
 * A replica falls behind (cut off from the primary while writes go on), then the primary is
 * SIGKILLed: only a node with every acknowledged write may be promoted (in synchronous mode, the
 * sync standby; the lagging one never).
 */
export function laggingReplicaThenPrimaryLoss(lab: StackLab): Promise<DrillResult> {
  let lagging = '';
  return underLoad(lab, 'a replica falls behind, then the primary dies', {
    inject: async (leader) => {
      const members = await cluster(lab);
      lagging = members.find((m) => m.role === 'replica' && m.state === 'streaming')?.name ?? '';
      if (!lagging) throw new Error('no asynchronous replica to hold back');
      await lab.partition(lagging, [leader]);
      // Let it fall behind: the writer goes on committing on the primary (confirmed by the sync standby).
      await sleep(10_000);
      await lab.kill(leader);
      return Date.now();
    },
    ride: async (leader) => {
      const notes: string[] = [];
      let promoted = '';
      try {
        promoted = await newLeader(lab, leader, 120_000);
        notes.push(`promoted: ${promoted}; the replica held back was ${lagging}`);
        if (promoted === lagging) throw new Error(`${lagging}, the replica that had fallen behind, was promoted`);
      } finally {
        await lab.heal();
        await lab.startService(leader);
      }
      return { outcome: `${promoted} (the sync standby) promoted, never ${lagging}, which had fallen behind`, notes };
    },
  });
}

/** The data volumes' size for the disk-full drill: room for the cluster, quickly filled. */
export const DISK_FULL_VOLUME_MB = 256;

/**
 * A lab override (compose.override.yaml, which Compose merges into compose.yaml) that makes each
 * Patroni node's data volume a tmpfs of `sizeMb`: the disk-full drill fills memory the kernel caps
 * at that size, never the host's disk. tmpfs forgets its files when its container stops, so only
 * drills that keep every container running may use it.
 */
export function sizeLimitDataVolumes(stackDir: string, sizeMb: number): void {
  const compose = load(readFileSync(join(stackDir, 'compose.yaml'), 'utf8')) as { services: Record<string, { volumes?: string[] }> };
  const volumes: Record<string, object> = {};
  for (const [name, service] of Object.entries(compose.services)) {
    for (const mount of service.volumes ?? []) {
      const [volume, target = ''] = mount.split(':');
      // The postgres image's postgres user is 999:999; PostgreSQL wants its data directory private.
      if (target.startsWith('/var/lib/postgresql') && volume === `${name}-data`) {
        volumes[volume] = {
          driver: 'local',
          driver_opts: { type: 'tmpfs', device: 'tmpfs', o: `size=${sizeMb}m,uid=999,gid=999,mode=0700` },
        };
      }
    }
  }
  if (Object.keys(volumes).length === 0) throw new Error(`no PostgreSQL data volume in ${stackDir}/compose.yaml`);
  writeFileSync(join(stackDir, 'compose.override.yaml'), dump({ volumes }));
}

/** The mount point of a PostgreSQL node's data volume, as compose.yaml mounts it. */
function dataVolumeMount(lab: StackLab, node: string): string {
  const mount = (lab.config.services[node]?.volumes ?? []).find((v) => v.type === 'volume' && v.target.startsWith('/var/lib/postgresql'));
  if (!mount) throw new Error(`${node} mounts no PostgreSQL data volume`);
  return mount.target;
}

/**
 * The primary's data volume fills up (a file takes every free byte; needs sizeLimitDataVolumes),
 * is held full for 15 s, then the file is removed.
 */
export function diskFull(lab: StackLab): Promise<DrillResult> {
  let fill = '';
  return underLoad(lab, "the primary's data volume fills up (held full 15 s, then freed)", {
    inject: async (leader) => {
      const mount = dataVolumeMount(lab, leader);
      fill = `${mount}/drill-disk-full`;
      // dd stops at ENOSPC: that is the point (its exit status is not).
      await lab.exec(leader, ['sh', '-c', `dd if=/dev/zero of=${fill} bs=1M 2>/dev/null; df -k ${mount} | tail -1`]);
      return Date.now();
    },
    ride: async (leader) => {
      const notes: string[] = [];
      let freed;
      try {
        await sleep(7_000);
        notes.push(`while full, Patroni's REST API on ${leader} answers /primary: ${await restStatus(lab, leader, '/primary')}`);
        notes.push(`while full, the leader is ${(await leaderName(lab).catch(() => undefined)) ?? 'none'}`);
        await sleep(8_000);
      } finally {
        freed = await lab.exec(leader, ['rm', '-f', fill]);
      }
      if (freed.code !== 0) throw new Error(`could not free ${fill} on ${leader}: ${freed.stderr}`);
      const healedAt = Date.now();
      const logs = await lab.logs(leader);
      const restarts = (logs.match(/terminating any other active server processes|all server processes terminated; reinitializing/g) ?? [])
        .length;
      notes.push(
        restarts
          ? 'PostgreSQL crashed on the full disk (PANIC) and restarted once space was freed'
          : 'PostgreSQL kept running: only the statements that needed space failed',
      );
      const after = await waitFor('a leader', () => leaderName(lab).catch(() => undefined), 120_000);
      return {
        outcome:
          after === leader
            ? `no failover: ${leader} stayed the leader; writes failed while the disk was full and resumed once it was freed`
            : `failover to ${after}`,
        notes,
        healedAt,
      };
    },
  });
}

/**
 * Asynchronous replication: every replica is cut off from the primary while it takes writes and
 * more WAL than maximum_lag_on_failover (1 MiB), then the primary is SIGKILLed. Promoting any
 * replica would lose acknowledged writes, so none may be; watched for 45 s (past the leader key's
 * ttl on every profile), then the partition heals and the primary is started again.
 */
export function everyReplicaBehindThenPrimaryLoss(lab: StackLab): Promise<DrillResult> {
  let behind: string[] = [];
  return underLoad(lab, 'every replica falls far behind (asynchronous replication), then the primary dies', {
    inject: async (leader) => {
      behind = lab.services('patroni').filter((n) => n !== leader);
      for (const replica of behind) await lab.partition(replica, [leader]);
      await pgQuery(lab, leader, 'CREATE TABLE IF NOT EXISTS drill_bulk (id bigint, pad text)', 5432, 'postgres');
      // About 5 MB of WAL, acknowledged by the primary alone.
      await pgQuery(lab, leader, "INSERT INTO drill_bulk SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g", 5432, 'postgres');
      // Patroni publishes the primary's WAL position in etcd once per loop_wait (at most 10 s).
      await sleep(12_000);
      await lab.kill(leader);
      return Date.now();
    },
    ride: async (leader, at) => {
      const notes: string[] = [];
      let promoted: string | undefined;
      try {
        // The dead primary's key stays until its ttl runs out: only another leader counts.
        while (!promoted && Date.now() - at < 45_000) {
          const l = await leaderName(lab).catch(() => undefined);
          if (l && l !== leader) promoted = l;
          await sleep(500);
        }
        const refusals = await Promise.all(
          behind.map(async (r) => ((await lab.logs(r)).match(/exceeds maximum replication lag/g) ?? []).length),
        );
        notes.push(
          `no leader for ${((Date.now() - at) / 1000).toFixed(0)} s; "exceeds maximum replication lag" logged ${behind.map((r, i) => `${refusals[i]}× by ${r}`).join(', ')}`,
        );
        if (promoted) throw new Error(`${promoted} was promoted although every replica was behind the dead primary`);
      } finally {
        await lab.heal();
        await lab.startService(leader);
      }
      const back = await waitFor('a leader', () => leaderName(lab).catch(() => undefined), 120_000);
      return {
        outcome: `no replica promoted; writes waited until ${leader} was started again, and ${back} took the leader key back`,
        notes,
      };
    },
  });
}

/** The drills that run on one stack with synchronous replication, in this order (each leaves it settled). */
export const DRILLS_ON_A_SYNC_STACK = [
  postgresCrash,
  patroniFrozen,
  postmasterFrozen,
  connectionsExhausted,
  syncStandbyFrozen,
  laggingReplicaThenPrimaryLoss,
];

/** The drills that need a stack of their own: how to generate it, and what to change before it starts. */
export const DRILLS_ON_THEIR_OWN_STACK: {
  drill: (lab: StackLab) => Promise<DrillResult>;
  synchronousReplication: boolean;
  prepare?: (stackDir: string) => void;
}[] = [
  { drill: diskFull, synchronousReplication: true, prepare: (dir) => sizeLimitDataVolumes(dir, DISK_FULL_VOLUME_MB) },
  { drill: everyReplicaBehindThenPrimaryLoss, synchronousReplication: false },
];
