/**
 * A generated swarm stack deployed on the SwarmLab's nodes, seen from this host: its load balancers
 * on the nodes' published ports, everything else through `docker exec` on the node that runs the
 * task (overlay addresses are not reachable from here). And the host-loss drill the tests and the
 * benchmark share: a whole node killed or cut off under a steady writer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ackedIds, failures, outageAround, startLoop, type LoopResult, type LoopTarget } from './clients.js';
import { withEngine } from './engine.js';
import { generateStackWith } from './generate.js';
import { runbookCommands } from './runbook.js';
import { runShell, sleep, waitFor } from './shell.js';
import type { Target } from './stack-lab.js';
import type { SwarmLab } from './swarm.js';

export interface Member {
  name: string;
  role: string;
  state: string;
}

export class SwarmStack implements LoopTarget {
  /** Nodes the drill has taken away: no docker command is sent to them. */
  readonly down = new Set<number>();

  constructor(
    readonly swarm: SwarmLab,
    readonly project: string,
    /** The nodes whose load balancer a user's client knows (DNS with one A record each). */
    readonly lbNodes: number[],
    readonly httpPort: number,
    readonly patroniNodes: string[],
  ) {}

  published(): Target[] {
    return this.lbNodes.filter((i) => !this.down.has(i)).map((i) => ({ host: this.swarm.nodeIp(i), port: this.httpPort }));
  }

  async serviceOfHostname(): Promise<string | null> {
    return null;
  }

  /** A node that is up, to send swarm commands to. */
  manager(): number {
    const up = Array.from({ length: this.swarm.nodes }, (_, k) => k + 1).find((i) => !this.down.has(i));
    if (up === undefined) throw new Error('every node is down');
    return up;
  }

  /** The node (1-based, NaN where unreadable) of each of the service's running tasks, as Swarm lists them. */
  private async runningTaskNodes(service: string): Promise<number[]> {
    const r = await this.swarm.docker(this.manager(), [
      'service',
      'ps',
      `${this.project}_${service}`,
      '--filter',
      'desired-state=running',
      '--format',
      '{{.Node}} {{.CurrentState}}',
    ]);
    return r.stdout
      .split('\n')
      .filter((l) => /\sRunning/.test(l))
      .map((l) => Number(/^node(\d+)/.exec(l)?.[1]));
  }

  private isUp = (node: number | undefined): node is number => node !== undefined && Number.isInteger(node) && !this.down.has(node);

  /** The node (1-based) running the service's task, if one runs. */
  async nodeOf(service: string): Promise<number | undefined> {
    const [node] = await this.runningTaskNodes(service);
    return this.isUp(node) ? node : undefined;
  }

  /** The nodes (1-based) running one of the service's tasks, each once. */
  async nodesOf(service: string): Promise<number[]> {
    return [...new Set(await this.runningTaskNodes(service))].filter(this.isUp);
  }

  /** The service's containers on the node. */
  private async containers(node: number, service: string): Promise<string[]> {
    const r = await this.swarm.docker(node, ['ps', '-q', '-f', `label=com.docker.swarm.service.name=${this.project}_${service}`], 5000);
    return r.stdout.split('\n').filter(Boolean);
  }

  private async execIn(node: number, id: string, argv: string[], timeoutMs: number): Promise<string | undefined> {
    const r = await this.swarm.docker(node, ['exec', id, ...argv], timeoutMs);
    return r.code === 0 ? r.stdout : undefined;
  }

  /** Runs argv in each of the service's containers on the node; the outputs, undefined where it failed. */
  async execOnNode(node: number, service: string, argv: string[], timeoutMs = 10_000): Promise<(string | undefined)[]> {
    return Promise.all((await this.containers(node, service)).map((id) => this.execIn(node, id, argv, timeoutMs)));
  }

  /** Runs argv in the service's container, on its node; undefined when it does not run or fails. */
  async exec(service: string, argv: string[], timeoutMs = 10_000): Promise<string | undefined> {
    const node = await this.nodeOf(service);
    if (node === undefined) return undefined;
    const [id] = await this.containers(node, service);
    return id ? this.execIn(node, id, argv, timeoutMs) : undefined;
  }

  /** Patroni's view of the cluster, from the first node that answers. */
  async cluster(): Promise<Member[]> {
    for (const node of this.patroniNodes) {
      const out = await this.exec(node, ['curl', '-fsS', '--max-time', '2', 'http://127.0.0.1:8008/cluster']);
      if (out) return (JSON.parse(out) as { members: Member[] }).members;
    }
    throw new Error('no Patroni node answers /cluster');
  }

  async leader(): Promise<string | undefined> {
    return (await this.cluster().catch(() => [])).find((m) => m.role === 'leader')?.name;
  }

  /** Nodes whose PostgreSQL takes writes right now (not in recovery): never more than one. */
  async writablePrimaries(): Promise<string[]> {
    const answers = await Promise.all(
      this.patroniNodes.map(async (n) => ((await this.sql(n, 'SELECT pg_is_in_recovery()'))?.trim() === 'f' ? n : undefined)),
    );
    return answers.filter((n): n is string => n !== undefined);
  }

  /** One query as postgres over the node's local socket, in Grafana's database. */
  sql(node: string, query: string): Promise<string | undefined> {
    return this.exec(node, ['psql', '-X', '-At', '-d', 'grafana', '-c', query]);
  }

  /** The members, if every node runs: one leader, the others streaming. */
  async settled(): Promise<Member[] | undefined> {
    const members = await this.cluster().catch(() => []);
    const leaders = members.filter((m) => m.role === 'leader' && m.state === 'running').length;
    const streaming = members.filter((m) => m.role !== 'leader' && m.state === 'streaming').length;
    return members.length === this.patroniNodes.length && leaders === 1 && streaming === members.length - 1 ? members : undefined;
  }

  waitSettled(timeoutMs = 240_000): Promise<Member[]> {
    return waitFor('the Patroni cluster to settle', () => this.settled(), timeoutMs, 1000);
  }

  /** The node running the current leader's task. */
  async leaderNode(): Promise<number> {
    const leader = await waitFor('a leader', () => this.leader(), 60_000);
    return waitFor(`the node of ${leader}`, () => this.nodeOf(leader), 30_000, 1000);
  }

  /**
   * Moves the leader off `node` (a switchover) if it is there. No candidate is named: with
   * synchronous replication Patroni switches over to a synchronous standby only.
   */
  async moveLeaderOff(node: string): Promise<void> {
    if ((await this.leader()) !== node) return;
    const out = await this.exec(node, ['patronictl', 'switchover', '--force'], 60_000);
    // patronictl exits 0 on a refused switchover too: its output says which happened.
    if (!out?.includes('Successfully switched over')) throw new Error(`switchover away from ${node} failed: ${out}`);
    await waitFor(`a leader other than ${node}`, async () => ((await this.leader()) ?? node) !== node || undefined, 60_000, 1000);
    await this.waitSettled();
  }
}

export const SWARM_PROJECT = 'grafana-ha';
/** The default stack's Patroni nodes; labelled onto nodes 1-3, like its LBs onto nodes 1 and 2. */
export const SWARM_PATRONI_NODES = ['pg-1', 'pg-2', 'pg-3'];
export const SWARM_LB_NODES = [1, 2];
export const SWARM_HTTP_PORT = 8080;
/** README commands that build or push images run where the images are: this host's engine. */
const BUILD_MACHINE_COMMAND = /^docker (build|push|tag) /;

/**
 * A swarm stack for the lab's swarm, its images pulled from the lab's registry (the stand-ins,
 * mirrored), its public URL node 1's load balancer. --overlay-encryption false: this machine's
 * kernel has no ESP (CONFIG_INET_ESP), which encrypted overlays need.
 */
function generateSwarmStack(swarm: SwarmLab): string {
  return generateStackWith([
    '--deploy-target',
    'swarm',
    '--image-registry',
    swarm.registry,
    '--mirror-images',
    'true',
    '--overlay-encryption',
    'false',
    '--public-url',
    `http://${swarm.nodeIp(1)}:${SWARM_HTTP_PORT}/`,
    '--postgres-major',
    '18',
  ]);
}

/** The lab's stack, generated, and the SwarmStack that sees it (the default stack: nodes 1-3, LBs on 1 and 2). */
export function labSwarmStack(swarm: SwarmLab): { dir: string; stack: SwarmStack } {
  const dir = generateSwarmStack(swarm);
  return { dir, stack: new SwarmStack(swarm, SWARM_PROJECT, SWARM_LB_NODES, SWARM_HTTP_PORT, SWARM_PATRONI_NODES) };
}

/**
 * Runs commands from the stack folder, in order, as a user would: those that build or push images on
 * this host's engine (where the stand-ins are), the others on node 1, a manager.
 */
export async function runOnSwarm<C extends { command: string }>(swarm: SwarmLab, dir: string, commands: C[]) {
  const results = [];
  for (const step of commands) {
    const env = BUILD_MACHINE_COMMAND.test(step.command) ? withEngine() : swarm.nodeEnv(1);
    const r = await runShell(step.command, dir, env, 600_000);
    results.push({ ...step, code: r.code, output: r.code === 0 ? '' : r.output });
  }
  return results;
}

/** Every command of the stack README, as written, in order (runOnSwarm). */
export const runSwarmReadme = (swarm: SwarmLab, dir: string) =>
  runOnSwarm(swarm, dir, runbookCommands(readFileSync(join(dir, 'README.md'), 'utf8')));

/**
 * The hosts a drill takes away, as the issue lists them: the primary's; a load balancer's that is
 * not the primary's (the other LB must serve); one with replicas only (node 3: an etcd member and
 * a PostgreSQL node, the leader moved off it first), cut off rather than killed.
 */
export const HOST_LOSS_DRILLS: { name: string; how: 'kill' | 'cut'; host: (stack: SwarmStack) => Promise<number> }[] = [
  { name: "the primary's host killed", how: 'kill', host: (stack) => stack.leaderNode() },
  {
    name: "a load balancer's host, not the primary's, killed",
    how: 'kill',
    host: async (stack) => {
      const primary = await stack.leaderNode();
      return stack.lbNodes.find((i) => i !== primary)!;
    },
  },
  {
    name: 'a host with replicas only cut off',
    how: 'cut',
    host: async (stack) => {
      await stack.moveLeaderOff(SWARM_PATRONI_NODES[2]!);
      return 3;
    },
  },
];

export interface HostLossResult {
  node: number;
  how: 'kill' | 'cut';
  leaderBefore: string;
  leaderAfter: string;
  /** Longest time without an acknowledged write around the loss. */
  writeOutageMs: number;
  acked: number;
  failedWrites: number;
  /** Acknowledged ids missing on the primary after the loss. */
  lost: number[];
  /** Samples, from the host's return until its members rejoined, in which two nodes took writes. */
  twoPrimarySamples: number;
  /** The old leader's role once its host is back. */
  rejoinedAs: Record<string, string>;
  writer: LoopResult;
}

/**
 * Node `node` lost under a steady writer through the load balancers: every process killed (the host
 * dies) or its links cut (the host is cut off). Then the host comes back and its members rejoin.
 */
export async function hostLoss(
  stack: SwarmStack,
  node: number,
  how: 'kill' | 'cut',
  /** Run while the host is away, the writer still writing. */
  whileAway: () => Promise<void> = async () => {},
): Promise<HostLossResult> {
  const leaderBefore = await waitFor('a leader', () => stack.leader(), 60_000);
  const writer = startLoop(stack, { method: 'POST', path: '/api/standin/writes', maxMs: 240_000, timeoutMs: 5000 });
  let lostAt = 0;
  let twoPrimarySamples = 0;
  let leaderAfter = leaderBefore;
  const hostsPrimary = (await stack.nodeOf(leaderBefore)) === node;
  try {
    await sleep(3000);
    lostAt = Date.now();
    stack.down.add(node);
    if (how === 'kill') stack.swarm.kill(node);
    else stack.swarm.cut(node);
    if (hostsPrimary) {
      leaderAfter = await waitFor(
        'a new leader',
        async () => {
          const l = await stack.leader();
          return l && l !== leaderBefore ? l : undefined;
        },
        120_000,
        500,
      );
    }
    await waitFor('writes to resume', async () => writer.events.some((e) => e.ok && e.t + writer.startedAt > lostAt + 1000), 120_000, 200);
    await whileAway();
    await sleep(5000);
  } finally {
    await writer.stop();
  }
  const result = await writer.stop();
  const ids = ackedIds(result);
  const primary = await waitFor('a leader', () => stack.leader(), 60_000);
  const present = new Set(
    ((await stack.sql(primary, `SELECT id FROM standin_writes WHERE id = ANY('{${ids.join(',')}}'::bigint[])`)) ?? '')
      .split('\n')
      .filter(Boolean)
      .map(Number),
  );
  const lost = ids.filter((id) => !present.has(id));

  // The host comes back: its members rejoin; sampled all along, never two writable primaries.
  if (how === 'kill') stack.swarm.restart(node);
  else stack.swarm.heal(node);
  stack.down.delete(node);
  const sampling = (async () => {
    const until = Date.now() + 240_000;
    let settled = false;
    while (!settled && Date.now() < until) {
      if ((await stack.writablePrimaries()).length > 1) twoPrimarySamples++;
      settled = (await stack.settled()) !== undefined;
      await sleep(500);
    }
  })();
  await stack.swarm.waitAllReady(stack.manager(), 180_000);
  const members = await stack.waitSettled();
  await sampling;
  return {
    node,
    how,
    leaderBefore,
    leaderAfter,
    writeOutageMs: outageAround(result, lostAt),
    acked: ids.length,
    failedWrites: failures(result).length,
    lost,
    twoPrimarySamples,
    rejoinedAs: Object.fromEntries(members.map((m) => [m.name, m.role])),
    writer: result,
  };
}
