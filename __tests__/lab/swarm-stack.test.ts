/**
 * The swarm target on a real three-node swarm (lab/swarm.sh): a generated stack deployed by running
 * its README's commands as written, then whole hosts lost under a continuous writer through the
 * load balancers. Asserts the invariants (no acknowledged write lost, never two writable primaries,
 * the old primary back as a replica); the write outage and failed requests are printed, and
 * `npm run bench:failover` reports them.
 *
 * The stack is generated with --overlay-encryption false (lab/swarm-stack.ts says why); the default,
 * encrypted, is checked by `docker stack config` only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { load } from 'js-yaml';
import { ackedIds, failures, httpRequest, startLoop } from '../../lab/clients.js';
import { planCommands, rerunGenerator } from '../../lab/generate.js';
import { runShell, waitFor } from '../../lab/shell.js';
import { GRAFANA_DEFAULT_VERSION, IMAGES } from '../../generators/app/catalog.js';
import { APP_SUBNET, DB_ROUTER_TASKS, serviceDeployCommand, WAIT_SCRIPT } from '../../generators/app/kinds/swarm.js';
import { labUnavailableReason } from '../../lab/stack-lab.js';
import {
  HOST_LOSS_DRILLS,
  hostLoss,
  labSwarmStack,
  runOnSwarm,
  runSwarmReadme,
  SwarmStack,
  SWARM_HTTP_PORT as HTTP_PORT,
  SWARM_PATRONI_NODES,
  SWARM_PROJECT as PROJECT,
  type HostLossResult,
} from '../../lab/swarm-stack.js';
import { SwarmLab } from '../../lab/swarm.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`\n!!! SWARM STACK TEST SKIPPED: ${unavailable}\n`);
const describeLab = unavailable ? describe.skip : describe;
jest.setTimeout(900_000);

/** The stand-in images, pushed under the mirrored names the stack pulls (--mirror-images). */
const OFFICIAL_IMAGES = [IMAGES.grafana(GRAFANA_DEFAULT_VERSION), IMAGES.etcd, IMAGES.haproxy, IMAGES.nginx];

const report = (what: string, r: HostLossResult) =>
  console.log(
    `swarm host loss: ${what}: write outage ${(r.writeOutageMs / 1000).toFixed(1)} s, writes acked ${r.acked}, failed ${r.failedWrites}, ` +
      `lost ${r.lost.length}, two-primary samples ${r.twoPrimarySamples}; leader ${r.leaderBefore} → ${r.leaderAfter}; after: ${JSON.stringify(r.rejoinedAs)}`,
  );

describeLab('a generated swarm stack on three hosts', () => {
  let swarm: SwarmLab;
  let dir: string;
  let stack: SwarmStack;

  beforeAll(async () => {
    swarm = await SwarmLab.start(3);
    await swarm.waitAllReady();
    ({ dir, stack } = labSwarmStack(swarm));
    // What a user mirrors into their registry: here the stand-ins, under the names the README pushes to.
    for (const image of OFFICIAL_IMAGES) {
      const r = await swarm.hostDocker(['image', 'inspect', image]);
      if (r.code !== 0) throw new Error(`${image} is not on the test engine (npm run toolchain builds it)`);
    }
  }, 900_000);
  afterAll(() => swarm?.destroy());

  test("its README's commands, run as written (images built and pushed here, the rest on a manager), deploy it", async () => {
    const results = await runSwarmReadme(swarm, dir);
    expect(results.map((c) => c.command)).toEqual(
      expect.arrayContaining([`docker stack deploy --detach=true --prune --with-registry-auth -c stack.yaml ${PROJECT}`]),
    );
    for (const result of results) expect(result).toEqual({ ...result, code: 0, output: '' });
    // Every service at its count: one task per member, the LB on both labelled hosts, two DB routers.
    const services = (await swarm.dockerOk(1, ['stack', 'services', PROJECT, '--format', '{{.Name}} {{.Replicas}}'])).trim().split('\n');
    expect(services.filter((s) => !/ (\d+)\/\1\b/.test(s))).toEqual([]);
    // Each member on the host its label names: etcd-k, pg-k, grafana-k on node k.
    const stackFile = load(readFileSync(join(dir, 'stack.yaml'), 'utf8')) as { services: Record<string, unknown> };
    for (const service of Object.keys(stackFile.services).filter((s) => /-\d$/.test(s))) {
      expect([service, await stack.nodeOf(service)]).toEqual([service, Number(service.slice(-1))]);
    }
    await stack.waitSettled();
    for (const i of stack.lbNodes) {
      const r = await httpRequest({ host: swarm.nodeIp(i), port: HTTP_PORT }, 'POST', '/api/standin/writes', 5000, {
        'x-request-key': `readme-${i}`,
      });
      expect([i, r.status]).toEqual([i, 200]);
      // Each replica gossips on its own address in the app network's subnet (found by the wrapper, not by DNS).
      const gossip = await httpRequest({ host: swarm.nodeIp(i), port: HTTP_PORT }, 'GET', '/api/standin/gossip');
      expect(JSON.parse(gossip.body)).toMatchObject({
        listen: expect.stringMatching(`^${APP_SUBNET.prefix.replace(/\./g, '\\.')}`),
        port: 9094,
      });
    }
  });

  const [primaryHost, lbHost, replicaHost] = HOST_LOSS_DRILLS;

  test(`${primaryHost!.name} (engine and containers): writes resume on a new primary, none lost; the old one rejoins as a replica; the swarm keeps working`, async () => {
    const node = await primaryHost!.host(stack);
    const r = await hostLoss(stack, node, primaryHost!.how, async () => {
      // One manager of three gone: the other two still change the swarm.
      const other = [1, 2, 3].find((i) => i !== node)!;
      await swarm.dockerOk(other, ['service', 'update', '--detach', '--label-add', 'drill=primary-host', `${PROJECT}_lb`]);
    });
    report(`${primaryHost!.name} (node${node})`, r);
    expect(r.leaderAfter).not.toBe(r.leaderBefore);
    expect(r.lost).toEqual([]);
    expect(r.twoPrimarySamples).toBe(0);
    expect(r.rejoinedAs[r.leaderBefore]).toMatch(/^(replica|sync_standby)$/);
  });

  test(`${lbHost!.name}: the other load balancer keeps serving, no failover, no write lost`, async () => {
    const node = await lbHost!.host(stack);
    const r = await hostLoss(stack, node, lbHost!.how);
    report(`${lbHost!.name} (node${node})`, r);
    expect(r.leaderAfter).toBe(r.leaderBefore);
    expect(r.lost).toEqual([]);
    expect(r.twoPrimarySamples).toBe(0);
  });

  test(`${replicaHost!.name} (an etcd member, a PostgreSQL replica): no failover, no write lost`, async () => {
    const node = await replicaHost!.host(stack);
    const syncStandby = (await stack.cluster()).find((m) => m.role === 'sync_standby')?.name;
    const r = await hostLoss(stack, node, replicaHost!.how);
    report(`${replicaHost!.name} (node${node}); the sync standby was ${syncStandby}`, r);
    expect(r.leaderAfter).toBe(r.leaderBefore);
    expect(r.lost).toEqual([]);
    expect(r.twoPrimarySamples).toBe(0);
    // Commits wait for a synchronous standby: losing it stalls writes until Patroni names another.
    if (syncStandby !== SWARM_PATRONI_NODES[node - 1]) expect(r.failedWrites).toBe(0);
    // Back to every service at its count, as the README's wait script tells.
    const wait = await runShell(WAIT_SCRIPT.command, dir, swarm.nodeEnv(1), 300_000);
    expect({ code: wait.code, output: wait.output.trim() }).toEqual({ code: 0, output: expect.stringMatching(/runs all its tasks$/) });
  });

  test('adding a host: a re-run for a third Grafana replica and a fourth PostgreSQL node, its plan run as printed under a writer and a reader, fails no request, loses no write, and updates one service at a time', async () => {
    const node = swarm.addNode();
    await swarm.waitAllReady();
    const plan = planCommands(await rerunGenerator(dir, ['--defaults', '--grafana-replicas', '3', '--patroni-nodes', '4']));
    // Not the DB router nor the LB: they already name pg-4 and grafana-3, and resolve them once they exist.
    const updated = ['pg-4', 'grafana-3', 'grafana-1', 'grafana-2'];
    const created = ['pg-4', 'grafana-3'];
    expect(plan.filter((c) => c.includes(' -c services/'))).toEqual(updated.map((service) => serviceDeployCommand(PROJECT, service)));

    const grown = new SwarmStack(swarm, PROJECT, stack.lbNodes, HTTP_PORT, [...SWARM_PATRONI_NODES, 'pg-4']);
    const writer = startLoop(grown, { method: 'POST', path: '/api/standin/writes', maxMs: 600_000, timeoutMs: 5000 });
    const reader = startLoop(grown, { method: 'GET', path: '/api/standin/ping', maxMs: 600_000, timeoutMs: 5000 });
    // When each step's service began to change (created, or its update started) and when it was done
    // (the update's end; for a new service, its wait's return), read as soon as its wait returns.
    const results = [];
    const spans: { service: string; state?: string; started: number; completed: number }[] = [];
    const planStarted = Date.now();
    try {
      for (const command of plan) {
        results.push(...(await runOnSwarm(swarm, dir, [{ command }])));
        const waited = command.startsWith(`${WAIT_SCRIPT.command} `) ? command.split(' ')[1]! : undefined;
        if (!waited) continue;
        const status = JSON.parse(await swarm.dockerOk(1, ['service', 'inspect', '--format', '{{json .}}', `${PROJECT}_${waited}`])) as {
          CreatedAt: string;
          UpdateStatus?: { State: string; StartedAt: string; CompletedAt: string };
        };
        spans.push(
          created.includes(waited)
            ? { service: waited, state: 'created', started: Date.parse(status.CreatedAt), completed: Date.now() }
            : {
                service: waited,
                state: status.UpdateStatus?.State,
                started: Date.parse(status.UpdateStatus?.StartedAt ?? ''),
                completed: Date.parse(status.UpdateStatus?.CompletedAt ?? ''),
              },
        );
      }
    } finally {
      await Promise.all([writer.stop(), reader.stop()]);
    }
    const [writes, reads] = await Promise.all([writer.stop(), reader.stop()]);
    console.log(
      `swarm re-run (add a host): ${plan.length} commands in ${((Date.now() - planStarted) / 1000).toFixed(0)} s; writes acked ${ackedIds(writes).length}, failed ${failures(writes).length}; reads ${reads.events.length}, failed ${failures(reads).length}`,
    );
    for (const result of results) expect(result).toEqual({ ...result, code: 0, output: '' });
    expect({ writes: failures(writes), reads: failures(reads) }).toEqual({ writes: [], reads: [] });

    // Each new member on a host without one of its role: pg-4 on the new host, grafana-3 on node 3.
    // pg-4 streams and has every acknowledged write.
    expect({ 'pg-4': await grown.nodeOf('pg-4'), 'grafana-3': await grown.nodeOf('grafana-3') }).toEqual({ 'pg-4': node, 'grafana-3': 3 });
    await grown.waitSettled();
    const ids = ackedIds(writes);
    await waitFor(
      'pg-4 to hold every acknowledged write',
      async () =>
        (await grown.sql('pg-4', `SELECT count(*) FROM standin_writes WHERE id = ANY('{${ids.join(',')}}'::bigint[])`))?.trim() ===
          String(ids.length) || undefined,
      60_000,
      1000,
    );

    // Both router tasks, never restarted, check pg-4 and route reads to it.
    const routerTasks = await grown.nodesOf('db-router');
    expect(routerTasks).toHaveLength(DB_ROUTER_TASKS);
    const stats = `exec 3<>/dev/tcp/127.0.0.1/8404 && printf "GET /stats;csv HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3`;
    await waitFor(
      'every DB router task to see pg-4 as a replica',
      async () => {
        const pages = (await Promise.all(routerTasks.map((n) => grown.execOnNode(n, 'db-router', ['bash', '-c', stats])))).flat();
        const up = pages.map((page) => page?.split('\n').some((l) => /^replicas,pg-4,/.test(l) && l.split(',')[17] === 'UP'));
        return up.length === DB_ROUTER_TASKS && up.every(Boolean) ? true : undefined;
      },
      60_000,
      1000,
    );

    // One service at a time: each one done (an update, monitor period included) before the next began.
    expect(spans.map((span) => [span.service, span.state])).toEqual(
      updated.map((service) => [service, created.includes(service) ? 'created' : 'completed']),
    );
    const overlapping = spans.slice(1).filter((span, k) => !(span.started >= spans[k]!.completed));
    expect(overlapping).toEqual([]);
  });
});
