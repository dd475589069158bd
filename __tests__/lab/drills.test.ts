/**
 * The failure drills of a mature PostgreSQL HA distribution, on the real Docker Engine,
 * each under a writer through Grafana and a reader through the load balancer, with every node
 * watched directly. Asserts the invariants; the timings are the benchmark's (npm run bench:failover).
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { waitClusterSettled } from '../../lab/clients.js';
import {
  connectionsExhausted,
  DISK_FULL_VOLUME_MB,
  diskFull,
  everyReplicaBehindThenPrimaryLoss,
  laggingReplicaThenPrimaryLoss,
  patroniFrozen,
  postgresCrash,
  postmasterFrozen,
  sizeLimitDataVolumes,
  syncStandbyFrozen,
  type DrillResult,
} from '../../lab/drills.js';
import { generateStack } from '../../lab/generate.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';

const unavailable = labUnavailableReason();
const describeLab = unavailable ? describe.skip : describe;
const log = (l: string) => process.env.GGHA_LAB_VERBOSE && console.log(l);
jest.setTimeout(420_000);

const report = (r: DrillResult) =>
  console.log(
    `${r.drill}: ${r.outcome}; write outage ${(r.writeOutageMs / 1000).toFixed(1)} s; writes ${r.acked} acked, ${r.failedWrites} failed, ${r.lost.length} lost, ` +
      `${r.routedToReplica} routed to a replica; two-primary samples ${r.twoPrimarySamples}; reads ${r.failedReads}/${r.reads} failed\n  ${r.notes.join('\n  ')}`,
  );

/** Runs a drill, prints its figures, and checks the invariants every drill must keep. */
const drilled = async (drill: (lab: StackLab) => Promise<DrillResult>, lab: StackLab): Promise<DrillResult> => {
  const r = await drill(lab);
  report(r);
  expect(r.lost).toEqual([]);
  expect(r.twoPrimarySamples).toBe(0);
  expect(r.routedToReplica).toBe(0);
  expect(r.acked).toBeGreaterThan(0);
  return r;
};

/**
 * The stack of one describe block (fast profile): generated, changed by `prepare`, started and settled
 * before its tests, destroyed after them. Returns the lab, for the tests to use once started.
 */
function drillStack(stack: { loadBalancer: 'haproxy' | 'nginx'; synchronousReplication: boolean }, prepare?: (dir: string) => void) {
  let lab: StackLab | undefined;
  beforeAll(async () => {
    const dir = generateStack({ ...stack, failoverProfile: 'fast' });
    prepare?.(dir);
    lab = await StackLab.start(dir, { log, removeStackDir: true });
    await waitClusterSettled(lab, { sync: stack.synchronousReplication });
    for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
  }, 900_000); // includes waiting for the lab lock
  afterAll(() => lab?.destroy());
  return () => {
    if (!lab) throw new Error('the stack did not start');
    return lab;
  };
}

describeLab('failure drills (HAProxy LB, fast profile, synchronous replication)', () => {
  const stack = drillStack({ loadBalancer: 'haproxy', synchronousReplication: true });

  test('PostgreSQL crashes on the primary (postmaster SIGKILL): Patroni brings it back; nothing acknowledged lost, never two primaries', async () => {
    await drilled(postgresCrash, stack());
  });

  test('Patroni frozen on the primary (SIGSTOP): a replica takes over, the router fences the zombie (no write reaches it after the promotion), it rejoins as a replica once thawed', async () => {
    const r = await drilled(patroniFrozen, stack());
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    expect(r.outcome).toMatch(/rejoined as (replica|sync_standby)$/);
    expect(r.notes.join('\n')).toMatch(/after the promotion: 0$/m);
  });

  test('PostgreSQL frozen on the primary (postmaster SIGSTOP for 30 s): what Patroni and the router do; nothing acknowledged lost, never two primaries', async () => {
    await drilled(postmasterFrozen, stack());
  });

  test('connections exhausted on the primary: Patroni and replication keep working, no failover, Grafana writes again once the client lets go', async () => {
    const r = await drilled(connectionsExhausted, stack());
    expect(r.leaderAfter).toBe(r.leaderBefore);
    expect(r.notes.join('\n')).toMatch(/remaining connection slots are reserved|too many clients/);
  });

  test('the synchronous standby hangs (container frozen): commits wait only until Patroni names another sync standby; nothing acknowledged lost', async () => {
    const r = await drilled(syncStandbyFrozen, stack());
    expect(r.notes.join('\n')).toMatch(/became the sync standby/);
  });

  test('a replica falls behind, then the primary is SIGKILLed: the sync standby is promoted, never the lagging replica; nothing acknowledged lost', async () => {
    const r = await drilled(laggingReplicaThenPrimaryLoss, stack());
    expect(r.outcome).toMatch(/promoted, never/);
  });
});

describeLab('a full disk (nginx LB, fast profile, synchronous replication, size-limited data volumes)', () => {
  const stack = drillStack({ loadBalancer: 'nginx', synchronousReplication: true }, (dir) =>
    sizeLimitDataVolumes(dir, DISK_FULL_VOLUME_MB),
  );

  test("the primary's data volume fills up: writes fail while it is full (none acknowledged and lost), and resume once space is freed, without a failover", async () => {
    const r = await drilled(diskFull, stack());
    expect(r.failedWrites).toBeGreaterThan(0);
    expect(r.leaderAfter).toBe(r.leaderBefore);
  });
});

describeLab('a replica far behind, asynchronous replication (HAProxy LB, fast profile)', () => {
  const stack = drillStack({ loadBalancer: 'haproxy', synchronousReplication: false });

  test('every replica more than maximum_lag_on_failover behind, then the primary is SIGKILLed: none is promoted, the old primary comes back as the leader; nothing acknowledged lost', async () => {
    const r = await drilled(everyReplicaBehindThenPrimaryLoss, stack());
    expect(r.leaderAfter).toBe(r.leaderBefore);
    expect(r.notes.join('\n')).toMatch(/exceeds maximum replication lag" logged [1-9]\d*× by \S+, [1-9]/);
  });
});
