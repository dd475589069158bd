/**
 * Failure scenarios against a generated stack running on the real Docker
 * Engine with `docker compose` (lab/stack-lab.ts); every fault is injected
 * with Docker itself. Needs root and the engine (npm run toolchain); elsewhere
 * the suite is skipped with a loud message. One stack at a time:
 * everything lives in this one file so jest never runs two labs at once.
 * Asserts invariants (no lost write, no failed request), not timings — those
 * are the benchmark's job (npm run bench:failover).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { PATRONI_FILES } from '../../generators/app/kinds/patroni.js';
import { STACK_FILES } from '../../generators/app/stack-files.js';
import {
  ackedIds,
  cluster,
  failures,
  httpRequest,
  leaderName,
  outageAround,
  pgQuery,
  startLoop,
  waitClusterSettled,
} from '../../lab/clients.js';
import { withEngine } from '../../lab/engine.js';
import { runbookCommands } from '../../lab/runbook.js';
import { generateStack } from '../../lab/generate.js';
import { grafanaReplicaLoss, missingOnPrimary, plannedReplicaRestarts, primaryLoss, waitEveryReplicaServes } from '../../lab/scenarios.js';
import { runShell, sleep, waitFor } from '../../lab/shell.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) {
  console.warn(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!! STACK LAB SKIPPED: ${unavailable}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`,
  );
}
const describeLab = unavailable ? describe.skip : describe;
const log = (l: string) => process.env.GGHA_LAB_VERBOSE && console.log(l);
jest.setTimeout(240_000);

describeLab('database failures (HAProxy LB, fast profile, synchronous replication)', () => {
  let lab: StackLab;
  beforeAll(async () => {
    lab = await StackLab.start(generateStack({ loadBalancer: 'haproxy', failoverProfile: 'fast', synchronousReplication: true }), {
      log,
      removeStackDir: true,
    });
    await waitClusterSettled(lab, { sync: true });
  }, 900_000); // includes waiting for the lab lock: jest runs the lab files in parallel workers, the lock serialises their labs
  afterAll(() => lab?.destroy());

  test('bring-up: every service healthy, a write through the LB lands in the primary, replicas stream, a sync standby exists', async () => {
    for (const service of lab.services()) await lab.waitHealthy(service, 120_000);
    const write = await waitFor(
      'a write through the LB',
      async () => {
        const r = await httpRequest(lab.published(), 'POST', '/api/standin/writes');
        return r.status === 200 ? JSON.parse(r.body) : undefined;
      },
      60_000,
      500,
    );
    const leader = (await leaderName(lab))!;
    expect(await pgQuery(lab, leader, `SELECT id FROM standin_writes WHERE id = ${write.id}`)).toHaveLength(1);
    expect((await pgQuery(lab, leader, 'SELECT pg_is_in_recovery() AS r'))[0].r).toBe(false);
    const streaming = await pgQuery(lab, leader, "SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming'");
    expect(streaming).toHaveLength(lab.services('patroni').length - 1);
    expect(streaming.some((r) => r.sync_state === 'sync' || r.sync_state === 'quorum')).toBe(true);
    expect((await cluster(lab)).filter((m) => m.role === 'sync_standby').length).toBeGreaterThanOrEqual(1);
    // etcd keeps its data in a directory it made 0700 itself: no permission warning at start.
    for (const member of lab.services('etcd')) expect(await lab.logs(member)).not.toMatch(/check file permission/);
  });

  test('primary SIGKILLed under a writer: writes resume on a new primary, nothing acknowledged is lost, the old primary rejoins as a replica', async () => {
    const r = await primaryLoss(lab, 'kill', true);
    console.log(
      `SIGKILL: ${r.oldLeader} → ${r.newLeader}, write outage ${(r.outageMs / 1000).toFixed(1)} s, ${r.acked} acked, ${r.lost.length} lost`,
    );
    expect(r.newLeader).not.toBe(r.oldLeader);
    expect(r.acked).toBeGreaterThan(0);
    expect(r.lost).toEqual([]);
    expect(r.oldLeaderRoleAfterRejoin).not.toBe('leader');
  });

  test("the README's failover drill, run as written under the lab's own writer: it loses no probe write, and sees the outage the lab sees", async () => {
    const readme = readFileSync(join(lab.dir, STACK_FILES.readme.path), 'utf8');
    const drills = runbookCommands(readme, 'text').filter((c) => c.section === 'Rehearse a failover');
    expect(drills.map((d) => d.command)).toEqual([PATRONI_FILES.failoverDrill.command, `${PATRONI_FILES.failoverDrill.command} --kill`]);
    for (const { command } of drills) {
      await waitClusterSettled(lab, { sync: true });
      const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', maxMs: 180_000 });
      await sleep(1_000);
      const started = Date.now();
      const drill = await runShell(command, lab.dir, withEngine(), 240_000);
      const writes = await writer.stop();
      expect({ command, code: drill.code, output: drill.code === 0 ? '' : drill.output }).toEqual({ command, code: 0, output: '' });
      const figure = (pattern: RegExp) => Number(pattern.exec(drill.output)?.[1]);
      const scriptOutage = figure(/write outage ([\d.]+) s/);
      const lost = figure(/probe writes \d+ acknowledged, \d+ failed, (\d+) lost/);
      const labOutage = outageAround(writes, started);
      console.log(
        `failover drill: ${command}: the script's write outage ${scriptOutage.toFixed(1)} s, the lab writer's ${(labOutage / 1000).toFixed(1)} s; ` +
          `script ${/probe writes .*/.exec(drill.output)?.[0]}; lab ${ackedIds(writes).length} acked, ${failures(writes).length} failed`,
      );
      expect(lost).toBe(0);
      expect(await missingOnPrimary(lab, ackedIds(writes))).toEqual([]);
      // Both saw the failover: a switchover, and a kill even more so, interrupts writes.
      expect(scriptOutage).toBeGreaterThan(0);
      expect(labOutage).toBeGreaterThan(0);
    }
    await waitClusterSettled(lab, { sync: true });
  }, 600_000);

  test('primary stopped gracefully: same guarantees', async () => {
    const r = await primaryLoss(lab, 'stop', true);
    console.log(
      `graceful stop: ${r.oldLeader} → ${r.newLeader}, write outage ${(r.outageMs / 1000).toFixed(1)} s, ${r.acked} acked, ${r.lost.length} lost`,
    );
    expect(r.newLeader).not.toBe(r.oldLeader);
    expect(r.lost).toEqual([]);
    expect(r.oldLeaderRoleAfterRejoin).not.toBe('leader');
  });

  test('the DB router restarts: every Grafana replica recovers its DB connections by itself', async () => {
    await lab.restart('db-router');
    await lab.waitHealthy('db-router', 60_000);
    for (const g of lab.services('grafana-standin')) {
      const grafana = await lab.target(g, 3000);
      await waitFor(
        `${g} to write again`,
        async () => (await httpRequest(grafana, 'POST', '/api/standin/writes')).status === 200,
        30_000,
        500,
      );
      await waitFor(
        `${g} /api/health to be ok`,
        async () => (await httpRequest(grafana, 'GET', '/api/health')).status === 200,
        30_000,
        500,
      );
    }
  });

  test('DB router restarted while a Patroni node is down, then the node returns: no connection is handed to a replica', async () => {
    const leader = (await leaderName(lab))!;
    const replica = lab.services('patroni').find((n) => n !== leader)!;
    await lab.stop(replica);
    await lab.restart('db-router');
    await lab.waitHealthy('db-router', 60_000);
    await lab.startService(replica);
    // Connect through the router's primary port over and over while the node comes back.
    const seen = { primary: 0, replica: 0, refused: 0 };
    const until = Date.now() + 25_000;
    let settled = false;
    const settle = waitClusterSettled(lab, { sync: true }).then(() => (settled = true));
    while (Date.now() < until) {
      try {
        const [row] = await pgQuery(lab, 'db-router', 'SELECT pg_is_in_recovery() AS r');
        seen[row.r ? 'replica' : 'primary']++;
      } catch {
        seen.refused++;
      }
      await sleep(50);
    }
    await settle;
    console.log(`router during node return: ${JSON.stringify(seen)}, settled ${settled}`);
    expect(seen.replica).toBe(0);
    expect(seen.primary).toBeGreaterThan(0);
  });

  test('one etcd member of three dies: the database keeps accepting writes', async () => {
    const leaderBefore = await leaderName(lab);
    const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', maxMs: 60_000 });
    try {
      await sleep(2000);
      await lab.kill('etcd-1');
      await sleep(20_000); // longer than ttl: the leader key must be renewed through the survivors
    } finally {
      await writer.stop();
    }
    const result = await writer.stop();
    await lab.startService('etcd-1');
    await lab.waitHealthy('etcd-1', 60_000);
    expect(failures(result)).toEqual([]);
    expect(await leaderName(lab)).toBe(leaderBefore);
    expect(await missingOnPrimary(lab, ackedIds(result))).toEqual([]);
  });

  test('primary cut off from etcd: it stops taking writes before another node is promoted; nothing acknowledged is lost', async () => {
    const leader = (await leaderName(lab))!;
    const others = lab.services('patroni').filter((n) => n !== leader);
    await pgQuery(lab, leader, 'CREATE TABLE IF NOT EXISTS lab_probe (id bigserial PRIMARY KEY, node text)');
    const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', maxMs: 120_000 });
    let lastWriteOnOld = 0;
    let firstPromotion = 0;
    let cutAt = 0;
    try {
      await sleep(2000);
      cutAt = Date.now();
      await lab.partition(leader, lab.services('etcd'));
      const deadline = Date.now() + 90_000;
      // Probe the old primary directly (the client is not cut off from it) and the others' roles.
      while (Date.now() < deadline && !(firstPromotion && Date.now() - firstPromotion > 3000)) {
        const probeOld = pgQuery(lab, leader, `INSERT INTO lab_probe (node) VALUES ('${leader}')`).then(
          () => (lastWriteOnOld = Date.now()),
          () => {},
        );
        const probeOthers = Promise.all(
          others.map((n) =>
            pgQuery(lab, n, 'SELECT pg_is_in_recovery() AS r').then(
              ([x]) => !x.r,
              () => false,
            ),
          ),
        );
        const [, promoted] = await Promise.all([probeOld, probeOthers]);
        if (promoted.some(Boolean) && !firstPromotion) firstPromotion = Date.now();
        await sleep(100);
      }
      await lab.heal();
      await waitFor(
        'writes to resume',
        async () => writer.events.some((e) => e.ok && e.t + writer.startedAt > firstPromotion),
        60_000,
        200,
      );
    } finally {
      await lab.heal();
      await writer.stop();
    }
    const result = await writer.stop();
    await waitClusterSettled(lab, { sync: true });
    console.log(
      `etcd cut: last write on old primary ${((lastWriteOnOld - cutAt) / 1000).toFixed(1)} s, promotion ${((firstPromotion - cutAt) / 1000).toFixed(1)} s after the cut`,
    );
    expect(firstPromotion).toBeGreaterThan(0);
    expect(lastWriteOnOld).toBeLessThan(firstPromotion);
    expect(await missingOnPrimary(lab, ackedIds(result))).toEqual([]);
  });

  test('isolation: nothing leaves this machine; Grafana cannot reach etcd or Patroni, the LB cannot reach the DB router; only the LB publishes a port', async () => {
    // A TEST-NET-1 address (RFC 5737): routed nowhere. From the one network that is not internal
    // (edge), the packet reaches this host, which does not forward it (ip_forward 0, and the engine
    // may not turn it on): it is dropped here and the connection never completes. A container only
    // on internal networks has no route at all: that fails at once.
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('0');
    const connect = async (from: string, host: string, port: number) => {
      const r = await lab.exec(from, ['bash', '-c', `timeout 3 bash -c "exec 3<>/dev/tcp/${host}/${port}" 2>&1; echo "exit=$?"`]);
      console.log(`${from} → ${host}:${port}: ${r.stdout.trim().replace(/\n/g, ' | ')}`);
      return r.stdout;
    };
    expect(await connect('lb', '192.0.2.1', 443)).toMatch(/exit=(1|124)\b/); // edge
    expect(await connect('grafana-1', '192.0.2.1', 443)).toMatch(/exit=(1|124)\b/); // edge + app
    expect(await connect('pg-1', '192.0.2.1', 443)).toMatch(/unreachable[\s\S]*exit=1\b/i); // db only (internal)
    // Docker's DNS answers only for the networks a container is on.
    const fromGrafana = await lab.exec('grafana-1', [
      'bash',
      '-c',
      'for h in etcd-1 pg-1 db-router; do getent hosts $h >/dev/null && echo "$h resolves" || echo "$h unknown"; done',
    ]);
    expect(fromGrafana.stdout.trim().split('\n')).toEqual(['etcd-1 unknown', 'pg-1 unknown', 'db-router resolves']);
    const fromLb = await lab.exec('lb', ['bash', '-c', 'getent hosts db-router >/dev/null && echo resolves || echo unknown']);
    expect(fromLb.stdout.trim()).toBe('unknown');
    // Nor by address: the DB router's address on the app network is not reachable from the LB (other bridge, no forwarding).
    const routerIp = (
      await lab.docker([
        'inspect',
        '-f',
        `{{(index .NetworkSettings.Networks "${lab.project}_app").IPAddress}}`,
        await lab.container('db-router'),
      ])
    ).stdout.trim();
    expect(await connect('lb', routerIp, 5432)).not.toMatch(/exit=0\b/);
    // The DB router's unauthenticated stats page is for operators inside its container only.
    expect(await connect('grafana-1', 'db-router', 8404)).not.toMatch(/exit=0\b/);
    expect(await connect('grafana-1', 'db-router', 5432)).toMatch(/exit=0\b/); // control: the same probe does connect
    const published = JSON.parse(`[${(await lab.compose(['ps', '--format', 'json'])).trim().split('\n').join(',')}]`) as {
      Service: string;
      Publishers: { PublishedPort: number }[] | null;
    }[];
    expect(published.filter((c) => (c.Publishers ?? []).some((p) => p.PublishedPort > 0)).map((c) => c.Service)).toEqual(['lb']);
  });

  test('a process that dies inside its container (not docker kill) is brought back by the restart policy and rejoins', async () => {
    const leader = (await leaderName(lab))!;
    const replica = lab.services('patroni').find((n) => n !== leader)!;
    const restartsBefore = Number((await lab.docker(['inspect', '-f', '{{.RestartCount}}', await lab.container(replica)])).stdout);
    await lab.crashMainProcess(replica);
    await waitFor(
      `${replica} to be restarted by Docker`,
      async () => Number((await lab.docker(['inspect', '-f', '{{.RestartCount}}', await lab.container(replica)])).stdout) > restartsBefore,
      30_000,
      250,
    );
    const members = await waitClusterSettled(lab, { sync: true });
    expect(members.find((m) => m.name === replica)?.state).toBe('streaming');
    expect(await leaderName(lab)).toBe(leader);
    await lab.crashMainProcess('grafana-2');
    await waitFor('grafana-2 to be restarted and healthy', async () => (await lab.healthStatus('grafana-2')) === 'healthy', 90_000, 500);
    await waitEveryReplicaServes(lab);
  });

  test('a frozen primary (docker compose pause) is replaced; once thawed it rejoins as a replica, and nothing acknowledged is lost', async () => {
    const oldLeader = (await leaderName(lab))!;
    const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', maxMs: 150_000 });
    let newLeader = '';
    try {
      await sleep(2000);
      await lab.pause(oldLeader);
      newLeader = await waitFor(
        'a new leader',
        async () => {
          const l = await leaderName(lab).catch(() => undefined);
          return l && l !== oldLeader ? l : undefined;
        },
        90_000,
        250,
      );
      await waitFor('writes to resume', async () => writer.events.slice(-3).every((e) => e.ok) && writer.events.length > 3, 60_000, 200);
      await lab.unpause(oldLeader);
      // The thawed node still believes it is primary until its next HA loop: writes keep flowing meanwhile.
      await sleep(8000);
    } finally {
      await lab.unpause(oldLeader).catch(() => {});
      await writer.stop();
    }
    const result = await writer.stop();
    const members = await waitClusterSettled(lab, { sync: true });
    const leaders = members.filter((m) => m.role === 'leader');
    console.log(
      `pause: ${oldLeader} frozen → ${newLeader}; ${ackedIds(result).length} acked, ${failures(result).length} failed; after thaw ${oldLeader} is ${members.find((m) => m.name === oldLeader)?.role}`,
    );
    expect(leaders.map((m) => m.name)).toEqual([newLeader]);
    expect(members.find((m) => m.name === oldLeader)?.role).not.toBe('leader');
    expect((await pgQuery(lab, oldLeader, 'SELECT pg_is_in_recovery() AS r'))[0].r).toBe(true);
    expect(await missingOnPrimary(lab, ackedIds(result))).toEqual([]);
  });

  test('memory limits: every container runs under the limit compose.yaml sets, and none was OOM-killed by the scenarios', async () => {
    const config = JSON.parse(await lab.compose(['config', '--format', 'json'])) as {
      services: Record<string, { deploy?: { resources?: { limits?: { memory?: string | number } } } }>;
    };
    for (const service of lab.services()) {
      const limit = Number(config.services[service].deploy?.resources?.limits?.memory ?? 0);
      const [memory, oom] = (
        await lab.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.State.OOMKilled}}', await lab.container(service)])
      ).stdout
        .trim()
        .split(' ');
      expect({ service, memory: Number(memory), oom }).toEqual({ service, memory: limit, oom: 'false' });
      expect(limit).toBeGreaterThan(0);
    }
  });
});

for (const loadBalancer of ['haproxy', 'nginx'] as const) {
  describeLab(`Grafana replica loss and planned restarts behind ${loadBalancer}`, () => {
    let lab: StackLab;
    const lb = () => lab.published();
    /** Rows the stand-ins wrote under one request key, and which replica wrote each. */
    const rowsOf = async (key: string) =>
      JSON.parse((await httpRequest(lb(), 'GET', `/api/standin/writes?key=${key}`)).body) as { ids: number[]; instances: string[] };
    beforeAll(async () => {
      lab = await StackLab.start(generateStack({ loadBalancer }), { log, removeStackDir: true });
      for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
    }, 900_000); // includes waiting for the lab lock (see above)
    afterAll(() => lab?.destroy());

    test(`one replica SIGKILLed under a steady request stream and a writer: zero failed reads, zero duplicated writes; it serves again after a restart (${loadBalancer})`, async () => {
      const r = await grafanaReplicaLoss(lab);
      // A write in flight at the kill may fail (nginx does not replay what it has sent); count it.
      console.log(
        `${loadBalancer}: ${r.requests} requests, ${r.failedRequests} failed, ${r.slowRequests} slow (slowest ${r.slowestMs} ms), LB detect ${r.lbDetectS ?? 'n/a'} s, back in ${r.backInServiceS} s; writes ${r.writes.acked} acked, ${r.writes.failed} failed, ${r.duplicated.length} duplicated`,
      );
      expect(r.failureSamples).toEqual([]);
      expect(r.failedRequests).toBe(0);
      expect(r.backInServiceS).toBeGreaterThan(0);
      expect(r.duplicated).toEqual([]);
    });

    test(`a POST its replica committed but had not answered when SIGKILLed is not replayed on another replica (${loadBalancer})`, async () => {
      await waitEveryReplicaServes(lab);
      const key = randomUUID();
      // The stand-in commits, then holds the answer: the replica dies with the write applied and unanswered.
      const pending = httpRequest(lb(), 'POST', '/api/standin/writes?hold_ms=5000', 20_000, { 'x-request-key': key }).catch((e: Error) => ({
        status: 0,
        body: e.message,
      }));
      const hostname = await waitFor('the held write to commit', async () => (await rowsOf(key)).instances[0], 10_000, 50);
      const replica = await lab.serviceOfHostname(hostname);
      await lab.kill(replica);
      const answer = await pending;
      await sleep(2000); // a replay would have landed by now
      const rows = await rowsOf(key);
      console.log(
        `${loadBalancer}: POST in flight on the killed ${replica} answered ${answer.status}; rows under its key: ${rows.ids.length} (${rows.instances.join(', ')})`,
      );
      expect(rows.ids).toHaveLength(1);
      expect(answer.status).not.toBe(200);
      await lab.startService(replica);
      await lab.waitHealthy(replica, 120_000);
    });

    test(`every replica recreated through ${STACK_FILES.lbRotation.command} out/in under a reader, a writer and slow writes: zero failed, zero duplicated (${loadBalancer})`, async () => {
      const r = await plannedReplicaRestarts(lab);
      console.log(
        `${loadBalancer} planned restarts: reads ${r.reads.total}, ${r.reads.failed} failed; writes ${r.writes.acked} acked, ${r.writes.failed} failed; ` +
          `slow writes ${r.slowWrites.acked} acked, ${r.slowWrites.failed} failed; ${r.duplicated.length} duplicated`,
      );
      expect(r.commands.filter((c) => c.code !== 0)).toEqual([]);
      expect(r.failureSamples).toEqual([]);
      expect(r.duplicated).toEqual([]);
      expect(r.slowWrites.acked).toBeGreaterThan(5);
    });

    test(`alerting gossip: every replica binds and advertises its own IP on the internal app network, and its peers reach it there (${loadBalancer})`, async () => {
      const replicas = lab.services('grafana-standin');
      for (const replica of replicas) {
        const appIp = await lab.address(replica, 'app');
        const gossip = JSON.parse((await lab.exec(replica, ['curl', '-fsS', 'http://127.0.0.1:3000/api/standin/gossip'])).stdout);
        expect({ replica, ...gossip }).toEqual({ replica, listen: appIp, advertise: appIp, port: 9094 });
        const peer = replicas.find((r) => r !== replica)!;
        const probe = await lab.exec(peer, ['bash', '-c', `exec 3<>/dev/tcp/${replica}.app/9094 && echo connected`]);
        expect(probe.stdout.trim()).toBe('connected');
      }
    });
  });
}
