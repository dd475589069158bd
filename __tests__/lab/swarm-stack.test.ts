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
import { httpRequest } from '../../lab/clients.js';
import { runShell } from '../../lab/shell.js';
import { GRAFANA_DEFAULT_VERSION, IMAGES } from '../../generators/app/catalog.js';
import { APP_SUBNET, WAIT_SCRIPT } from '../../generators/app/kinds/swarm.js';
import { labUnavailableReason } from '../../lab/stack-lab.js';
import {
  HOST_LOSS_DRILLS,
  hostLoss,
  labSwarmStack,
  runSwarmReadme,
  SWARM_HTTP_PORT as HTTP_PORT,
  SWARM_PATRONI_NODES,
  SWARM_PROJECT as PROJECT,
  type SwarmStack,
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
});
