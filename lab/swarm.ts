/**
 * A real multi-node Docker Swarm on this machine, from Node: lab/swarm.sh does the work (engines in
 * network namespaces, one bridge, a local registry), this module calls it and runs `docker` on a node.
 * One swarm at a time, under the lab lock; destroy() (also on exit) removes all of it.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { engineEnv, REPO_ROOT } from './engine.js';
import { acquireLabLock, releaseLabLock } from './lab-lock.js';
import { tryRun, waitFor, type RunResult } from './shell.js';

const SWARM_SH = join(REPO_ROOT, 'lab/swarm.sh');
const script = (args: string[], timeoutMs = 180_000) =>
  execFileSync('bash', [SWARM_SH, ...args], { encoding: 'utf8', timeout: timeoutMs }).trim();

export class SwarmLab {
  private destroyed = false;

  /** Per node (index 0 = node 1): its DOCKER_HOST and its address on the bridge, as swarm.sh sets them up. */
  private readonly hosts: string[] = [];
  private readonly ips: string[] = [];
  /** How many nodes the swarm has: the managers start() made, then the workers addNode() joined. */
  nodes = 0;

  private constructor(
    managers: number,
    /** host:port of the registry every node pulls missing images from. */
    readonly registry: string,
  ) {
    for (let i = 1; i <= managers; i++) this.known(i);
  }

  private known(i: number): void {
    this.hosts.push(script(['env', String(i)]).replace(/^export DOCKER_HOST=/, ''));
    this.ips.push(script(['ip', String(i)]));
    this.nodes = i;
  }

  /** Starts `nodes` engines, every one a manager of one swarm, and the registry. */
  static async start(nodes = 3): Promise<SwarmLab> {
    await acquireLabLock();
    try {
      script(['start', String(nodes)]);
    } catch (error) {
      script(['stop']);
      releaseLabLock();
      throw error;
    }
    const lab = new SwarmLab(nodes, script(['registry']));
    process.once('exit', () => lab.destroy());
    return lab;
  }

  /** One more host, joined as a worker, as a user adds one; returns its number. */
  addNode(): number {
    const i = Number(script(['add']).split('\n').pop());
    if (i !== this.nodes + 1) throw new Error(`swarm.sh add made node ${i}, not node ${this.nodes + 1}`);
    this.known(i);
    return i;
  }

  /** Node `i`'s address on the bridge, where its host-mode published ports answer. */
  nodeIp(i: number): string {
    return this.ips[i - 1] ?? '';
  }

  /** The environment in which `docker` talks to node `i` (1-based). */
  nodeEnv(i: number): NodeJS.ProcessEnv {
    return { ...process.env, ...engineEnv(), DOCKER_HOST: this.hosts[i - 1] };
  }

  /** `docker <args>` against node `i`. */
  docker(i: number, args: string[], timeoutMs = 120_000): Promise<RunResult> {
    return tryRun(['docker', ...args], timeoutMs, { env: this.nodeEnv(i) });
  }

  async dockerOk(i: number, args: string[], timeoutMs = 120_000): Promise<string> {
    const r = await this.docker(i, args, timeoutMs);
    if (r.code !== 0) throw new Error(`node${i}: docker ${args.join(' ')} → exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /** `docker <args>` against the test engine on this host (where the stand-in images are built). */
  hostDocker(args: string[], timeoutMs = 300_000): Promise<RunResult> {
    return tryRun(['docker', ...args], timeoutMs, { env: { ...process.env, ...engineEnv() } });
  }

  /** Pushes an image of the host's test engine into the registry, as `<registry>/<name>`; returns that name. */
  async push(image: string, name = image.replace(/^.*\//, '')): Promise<string> {
    const target = `${this.registry}/${name}`;
    for (const args of [
      ['tag', image, target],
      ['push', '--quiet', target],
    ]) {
      const r = await this.hostDocker(args);
      if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr.trim()}`);
    }
    return target;
  }

  /** Node name → its status and manager reachability, as node `from` sees them. */
  async nodeStates(from = 1): Promise<Record<string, { status: string; manager: string }>> {
    const out = await this.dockerOk(from, ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}']);
    const states: Record<string, { status: string; manager: string }> = {};
    for (const line of out.trim().split('\n')) {
      const [host = '', status = '', manager = ''] = line.trim().split(/\s+/);
      states[host] = { status, manager };
    }
    return states;
  }

  /** Waits until every node is Ready and, if a manager, reachable, seen from node `from`. */
  waitAllReady(from = 1, timeoutMs = 90_000): Promise<void> {
    return waitFor(
      'every swarm node Ready',
      async () => {
        const states = await this.nodeStates(from).catch(() => ({}));
        const ready = Object.values(states).filter((s) => s.status === 'Ready' && /^(Leader|Reachable|)$/.test(s.manager));
        return ready.length === this.nodes || undefined;
      },
      timeoutMs,
      500,
    ).then(() => undefined);
  }

  /** Node `i` cut off the bridge: to the others, its host is gone. */
  cut(i: number): void {
    script(['cut', String(i)]);
  }

  heal(i: number): void {
    script(['heal', String(i)]);
  }

  /** Every process of node `i` SIGKILLed: its engine and its containers die with the "host". */
  kill(i: number): void {
    script(['kill', String(i)]);
  }

  /** Node `i`'s engine started again after kill(); it rejoins the swarm with its state. */
  restart(i: number): void {
    script(['restart', String(i)]);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      script(['stop']);
    } finally {
      releaseLabLock();
    }
  }
}
