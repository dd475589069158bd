/**
 * Backup scenarios on a running stack (stack-lab.ts): writes acknowledged through the load balancer,
 * the loss of every PostgreSQL node at once, and what a restore brings back. Used by
 * __tests__/lab/backups.test.ts (which asserts the bounds) and lab/bench-backup.ts (which prints the figures).
 */
import { httpRequest, startLoop } from './clients.js';
import { sleep, waitFor } from './shell.js';
import type { StackLab } from './stack-lab.js';

/** `n` writes through the load balancer, one after another, each retried until acknowledged: their ids. */
export async function writeThroughLb(lab: StackLab, n: number): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = await waitFor(
      'a write through the LB',
      async () => {
        const r = await httpRequest(lab.published(), 'POST', '/api/standin/writes').catch(() => undefined);
        return r?.status === 200 ? (JSON.parse(r.body).id as number) : undefined;
      },
      120_000,
      250,
    );
    ids.push(id);
  }
  return ids;
}

/** The ids Grafana's stand-in table holds, read through the load balancer (once it answers). */
export async function storedIds(lab: StackLab, timeoutMs = 120_000): Promise<Set<number>> {
  return waitFor(
    'the stand-in table through the LB',
    async () => {
      const r = await httpRequest(lab.published(), 'GET', '/api/standin/writes').catch(() => undefined);
      return r?.status === 200 ? new Set<number>(JSON.parse(r.body).ids) : undefined;
    },
    timeoutMs,
    500,
  );
}

export interface TotalLossResult {
  /** Writes acknowledged before the loss. */
  acked: number;
  /** Of those, the ones the restored database does not have. */
  missing: number[];
  /** How long before the loss the oldest missing write was acknowledged (0: none missing). */
  oldestMissingAgeMs: number;
  /** The restore command's run time. */
  restoreMs: number;
  /** From the restore command's start to the first write acknowledged through the load balancer. */
  writableAfterMs: number;
}

/**
 * Writes through the LB for `writeForMs`, then kills every PostgreSQL node at once (their volumes are
 * gone for the restore, which deletes them), runs `restore`, and compares what came back with what
 * was acknowledged.
 */
export async function totalLoss(lab: StackLab, opts: { writeForMs: number; restore: () => Promise<unknown> }): Promise<TotalLossResult> {
  const loop = startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 50, maxMs: opts.writeForMs + 10_000 });
  await sleep(opts.writeForMs);
  const lossAt = Date.now();
  await lab.compose(['kill', ...lab.services('patroni')]);
  const writes = await loop.stop();
  const acked = writes.events
    .filter((e) => e.ok && e.id !== undefined && writes.startedAt + e.t + e.ms <= lossAt)
    .map((e) => ({ id: e.id!, ackedAt: writes.startedAt + e.t + e.ms }));

  const restoreStarted = Date.now();
  let writableAt = 0;
  let restoring = true;
  const probe = (async () => {
    while (restoring && !writableAt) {
      const r = await httpRequest(lab.published(), 'POST', '/api/standin/writes', 2_000).catch(() => undefined);
      if (r?.status === 200) writableAt = Date.now();
      else await sleep(250);
    }
  })();
  try {
    await opts.restore();
  } finally {
    restoring = false;
  }
  const restoreMs = Date.now() - restoreStarted;
  await probe;
  if (!writableAt) writableAt = restoreStarted + restoreMs + (await writeTimed(lab));

  const stored = await storedIds(lab);
  const missing = acked.filter((w) => !stored.has(w.id));
  return {
    acked: acked.length,
    missing: missing.map((w) => w.id),
    oldestMissingAgeMs: missing.length ? lossAt - Math.min(...missing.map((w) => w.ackedAt)) : 0,
    restoreMs,
    writableAfterMs: writableAt - restoreStarted,
  };
}

/** Time until one write through the LB is acknowledged. */
async function writeTimed(lab: StackLab): Promise<number> {
  const started = Date.now();
  await writeThroughLb(lab, 1);
  return Date.now() - started;
}
