/**
 * Clients the tests and the benchmark use, all from the host: the LB through
 * its published port, other services at their container address. HTTP
 * requests, PostgreSQL queries, Patroni's REST API, and bounded load loops
 * (a writer through Grafana and a reader).
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import pg from 'pg';
import type { StackLab, Target } from './stack-lab.js';
import { sleep, waitFor } from './shell.js';

export interface HttpResult {
  status: number;
  body: string;
  /** Which Grafana stand-in answered (X-Standin-Instance). */
  instance: string | null;
  ms: number;
}

export function httpRequest(
  target: Target,
  method: string,
  path: string,
  timeoutMs = 5000,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.host,
        port: target.port,
        method,
        path,
        headers: { host: 'localhost', connection: 'close', ...headers },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            instance: (res.headers['x-standin-instance'] as string) ?? null,
            ms: Date.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    let connected = false;
    req.on('socket', (socket) => socket.once('connect', () => (connected = true)));
    // A request that never connected is told apart: it may be sent to another load balancer.
    req.on('timeout', () =>
      req.destroy(new Error(connected ? `timeout after ${timeoutMs} ms` : `connect ETIMEDOUT after ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end();
  });
}

/** One query on a fresh connection, closed afterwards; short timeouts so a dead server fails fast. */
export async function queryOnce<T = any>(config: pg.ClientConfig, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionTimeoutMillis: 3000, query_timeout: 5000, ...config });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end().catch(() => {});
  }
}

/** One query on one PostgreSQL node (or the DB router), as the superuser. */
export const pgQuery = async <T = any>(lab: StackLab, service: string, sql: string, port = 5432, database = 'grafana'): Promise<T[]> =>
  queryOnce<T>(
    { host: await lab.address(service), port, user: 'postgres', password: lab.secret('postgres-superuser-password'), database },
    sql,
  );

export interface ClusterMember {
  name: string;
  role: string;
  state: string;
  lag?: number | string;
}

/** Patroni's view of the cluster, from the first node that answers. */
export async function cluster(lab: StackLab): Promise<ClusterMember[]> {
  for (const node of lab.services('patroni')) {
    try {
      const r = await httpRequest(await lab.target(node, 8008), 'GET', '/cluster', 2000);
      if (r.status === 200) return JSON.parse(r.body).members;
    } catch {
      /* next node */
    }
  }
  throw new Error('no Patroni node answers /cluster');
}

export async function leaderName(lab: StackLab): Promise<string | undefined> {
  return (await cluster(lab)).find((m) => m.role === 'leader')?.name;
}

/** Waits until every Patroni node runs and every replica streams (and a sync standby exists when asked). */
export async function waitClusterSettled(lab: StackLab, opts: { sync?: boolean; timeoutMs?: number } = {}): Promise<ClusterMember[]> {
  const nodes = lab.services('patroni');
  return waitFor(
    'the Patroni cluster to settle',
    async () => {
      const members = await cluster(lab);
      const leaders = members.filter((m) => m.role === 'leader' && m.state === 'running');
      const streaming = members.filter((m) => m.role !== 'leader' && m.state === 'streaming');
      const syncOk = !opts.sync || members.some((m) => m.role === 'sync_standby');
      return members.length === nodes.length && leaders.length === 1 && streaming.length === nodes.length - 1 && syncOk
        ? members
        : undefined;
    },
    opts.timeoutMs ?? 120_000,
    500,
  );
}

export interface LoopEvent {
  /** ms since the loop started */
  t: number;
  ok: boolean;
  status: number;
  ms: number;
  id?: number;
  instance?: string | null;
  error?: string;
}

export interface LoopResult {
  startedAt: number;
  events: LoopEvent[];
}

/** Where a loop sends its requests: the load balancer(s) a user reaches, and who answered. */
export interface LoopTarget {
  /** One load balancer, or several: then a request no LB answered goes to the next, as a browser tries each A record. */
  published(): Target | Target[];
  serviceOfHostname(hostname: string): Promise<string | null>;
}

/**
 * A bounded request loop against the load balancer: one request at a time,
 * `pauseMs` apart, until stop() or `maxMs`. POST /api/standin/writes makes it
 * a writer (each ok event carries the acknowledged id). Every request carries
 * a fresh X-Request-Key: a row written twice under one key is a request the
 * load balancer replayed (duplicateWrites).
 */
export function startLoop(
  lab: LoopTarget,
  opts: { method: 'GET' | 'POST'; path: string; pauseMs?: number; maxMs: number; timeoutMs?: number },
) {
  const lbs = [lab.published()].flat();
  /** Only a connection that never reached an LB is tried on the next: a request sent is never sent twice. */
  const send = async (key: string) => {
    for (const [i, lb] of lbs.entries()) {
      try {
        return await httpRequest(lb, opts.method, opts.path, opts.timeoutMs ?? 5000, { 'x-request-key': key });
      } catch (error) {
        const unreached = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|connect ETIMEDOUT/.test((error as Error).message);
        if (!unreached || i === lbs.length - 1) throw error;
      }
    }
    throw new Error('no load balancer to send to');
  };
  const startedAt = Date.now();
  const events: LoopEvent[] = [];
  let stopped = false;
  const done = (async () => {
    while (!stopped && Date.now() - startedAt < opts.maxMs) {
      const t = Date.now() - startedAt;
      try {
        const r = await send(randomUUID());
        const ok = r.status === 200;
        const instance = r.instance ? await lab.serviceOfHostname(r.instance) : null;
        events.push({
          t,
          ok,
          status: r.status,
          ms: r.ms,
          instance,
          id: ok && opts.method === 'POST' ? JSON.parse(r.body).id : undefined,
          error: ok ? undefined : r.body.slice(0, 200),
        });
      } catch (e) {
        events.push({ t, ok: false, status: 0, ms: Date.now() - startedAt - t, error: (e as Error).message });
      }
      await sleep(opts.pauseMs ?? 20);
    }
    return { startedAt, events } as LoopResult;
  })();
  return {
    startedAt,
    events,
    stop: async () => {
      stopped = true;
      return done;
    },
  };
}

/**
 * Write/request outage caused by a failure at `atMs` (epoch ms): the longest
 * gap between consecutive successful completions from just before the failure
 * to the end of the loop (requests in flight at the failure may still succeed).
 */
export function outageAround(result: LoopResult, atMs: number): number {
  const at = atMs - result.startedAt;
  const oks = result.events
    .filter((e) => e.ok)
    .map((e) => e.t + e.ms)
    .sort((a, b) => a - b);
  const before = oks.filter((t) => t <= at);
  // A failure after the last acknowledgement: the loop stopped mid-outage, whose length is unknown.
  const lastOk = oks.length ? oks[oks.length - 1]! : -Infinity;
  if (result.events.some((e) => !e.ok && e.t > at && e.t >= lastOk)) return Infinity;
  const window = [before.length ? before[before.length - 1] : 0, ...oks.filter((t) => t > at)];
  let longest = 0;
  for (let i = 1; i < window.length; i++) longest = Math.max(longest, (window[i] ?? 0) - (window[i - 1] ?? 0));
  return window.length > 1 ? longest : Infinity;
}

export const ackedIds = (r: LoopResult) => r.events.filter((e) => e.ok && e.id !== undefined).map((e) => e.id!);
export const failures = (r: LoopResult) => r.events.filter((e) => !e.ok);

/** Request keys the Grafana stand-ins wrote more than once (each one a replayed request), asked through the LB. */
export async function duplicateWrites(lab: StackLab): Promise<string[]> {
  const r = await httpRequest(lab.published(), 'GET', '/api/standin/duplicates');
  if (r.status !== 200) throw new Error(`GET /api/standin/duplicates answered ${r.status}: ${r.body}`);
  return JSON.parse(r.body).keys;
}
