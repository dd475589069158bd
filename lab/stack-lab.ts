/**
 * The stack lab: runs a folder the generator wrote on the real Docker Engine
 * (lab/engine.sh) with `docker compose`, exactly as a user would, and offers
 * the controls a failure test needs. Every control is a Docker command:
 * kill → `docker compose kill -s SIGKILL`, stop/start/restart/pause → the
 * Compose commands (stop_signal and stop_grace_period from compose.yaml), a
 * crash inside the container → a signal to the container's own process (the
 * restart policy brings it back), a partition from some peers → packet filter
 * rules inside the container's own network namespace.
 *
 * The tests reach containers the way the host does: the LB through the port
 * it publishes on the host, every other service at its address on a Compose
 * network (the host holds the .1 of each bridge; ip forwarding is off, so
 * the networks stay apart from each other and from the world).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { engineRunning, engineUnavailableReason, REPO_ROOT, withEngine } from './engine.js';
import { acquireLabLock, releaseLabLock } from './lab-lock.js';
import { tryRun, waitFor, type RunResult } from './shell.js';

export { REPO_ROOT };

export type ServiceKind = 'etcd' | 'patroni' | 'postgres' | 'haproxy' | 'nginx' | 'grafana-standin';

/** A service as `docker compose config` resolves it (only what the lab uses). */
export interface ComposeService {
  image?: string;
  build?: { context: string };
  ports?: { target: number; published: string }[];
  networks?: Record<string, unknown>;
  volumes?: { type: string; source?: string; target: string }[];
}

interface ComposeConfig {
  name: string;
  services: Record<string, ComposeService>;
}

export interface Target {
  host: string;
  port: number;
}

/** Why the lab cannot run here, or null when it can. */
export function labUnavailableReason(): string | null {
  const reason = engineUnavailableReason();
  if (reason) return reason;
  if (!engineRunning()) return 'the test engine is not running (jest starts it in globalSetup; by hand: bash lab/engine.sh start)';
  return null;
}

export function kindOf(service: ComposeService): ServiceKind {
  if (service.build) return 'patroni';
  const image = service.image ?? '';
  const kinds: [RegExp, ServiceKind][] = [
    [/^gcr\.io\/etcd-development\/etcd:/, 'etcd'],
    [/^postgres:/, 'postgres'],
    [/^haproxy:/, 'haproxy'],
    [/^nginxinc\/nginx-unprivileged:/, 'nginx'],
    [/^grafana\/grafana:/, 'grafana-standin'],
  ];
  const kind = kinds.find(([re]) => re.test(image))?.[1];
  if (!kind) throw new Error(`the lab does not know the image ${image}`);
  return kind;
}

export interface LabOptions {
  /** Lines go to this function (default: nowhere). */
  log?: (line: string) => void;
  /** How long `up --wait` may take. */
  healthyTimeoutMs?: number;
  /** Delete the stack folder too on destroy() (for folders the lab's caller generated into a temp dir). */
  removeStackDir?: boolean;
  /** Runs once the stack's networks exist, before any container starts (e.g. to attach an external database). */
  beforeServices?: (lab: StackLab) => Promise<void>;
  /** Only the services it accepts (and what they depend on) are started: e.g. a Patroni stack's database tier. */
  only?: (service: string) => boolean;
  /** Hold the lab lock already (a second lab of the same test). */
  lockHeld?: boolean;
}

export class StackLab {
  config!: ComposeConfig;
  /** Container hostname (short id) → service, for the stand-ins' X-Standin-Instance. */
  private readonly hostnames = new Map<string, string>();
  private readonly log: (line: string) => void;
  private destroyed = false;
  /** Services with partition() rules in their network namespace, until heal(). */
  private readonly partitioned = new Set<string>();
  /** Containers the lab attached to this stack's networks (external hosts), removed with it. */
  private readonly extraContainers: string[] = [];

  private constructor(
    readonly dir: string,
    private readonly opts: LabOptions,
  ) {
    this.log = opts.log ?? (() => {});
  }

  get project(): string {
    return this.config.name;
  }

  /** Builds what compose.yaml builds, checks every other image is local, then `up -d --wait`. */
  static async start(stackDir: string, opts: LabOptions = {}): Promise<StackLab> {
    const lab = await StackLab.attach(stackDir, opts);
    try {
      const only = opts.only ? lab.services().filter(opts.only) : [];
      await lab.compose(['build', '--quiet', ...only], 600_000);
      if (opts.beforeServices) {
        await lab.compose(['up', '--no-start', '--pull', 'never', ...only], 120_000);
        await opts.beforeServices(lab);
      }
      await lab.compose(['up', '-d', '--wait', '--pull', 'never', ...only], opts.healthyTimeoutMs ?? 300_000);
      lab.log(`${lab.project}: up and healthy`);
      return lab;
    } catch (error) {
      lab.destroy();
      throw error;
    }
  }

  /**
   * A lab for a stack the caller brings up itself (the runbook test runs the README's own commands):
   * takes the lock, removes leftovers of the project, starts nothing.
   */
  static async attach(stackDir: string, opts: LabOptions = {}): Promise<StackLab> {
    const reason = labUnavailableReason();
    if (reason) throw new Error(reason);
    if (!opts.lockHeld) await acquireLabLock();
    const lab = new StackLab(stackDir, opts);
    registerCleanup(lab);
    try {
      lab.refresh();
      removeProject(lab.project); // leftovers of a crashed run (the lock says no live lab owns them)
      lab.checkImagesPresent();
      return lab;
    } catch (error) {
      lab.destroy();
      throw error;
    }
  }

  /** Re-reads the stack as Compose resolves it (after the generator rewrote compose.yaml). */
  refresh(): void {
    this.config = JSON.parse(
      execFileSync('docker', ['compose', 'config', '--format', 'json'], { cwd: this.dir, env: withEngine(), encoding: 'utf8' }),
    );
  }

  /** No registry can be reached: every image that is not built must already be in the engine. */
  checkImagesPresent(): void {
    const wanted = [
      ...new Set(
        Object.values(this.config.services)
          .filter((s) => !s.build && s.image)
          .map((s) => s.image!),
      ),
    ];
    const missing = wanted.filter((image) => {
      try {
        execFileSync('docker', ['image', 'inspect', image], { env: withEngine(), stdio: 'ignore' });
        return false;
      } catch {
        return true;
      }
    });
    if (missing.length)
      throw new Error(`images missing in the test engine (nothing can be pulled here; run \`npm run toolchain\`): ${missing.join(', ')}`);
  }

  /** `docker compose <args>` in the stack folder; throws with its output when it fails. */
  async compose(args: string[], timeoutMs = 120_000): Promise<string> {
    const r = await this.composeTry(args, timeoutMs);
    if (r.code !== 0) throw new Error(`docker compose ${args.join(' ')} → exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  composeTry(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    this.log(`docker compose ${args.join(' ')}`);
    return tryRun(['docker', 'compose', ...args], timeoutMs, { cwd: this.dir, env: withEngine() });
  }

  /** `docker <args>` against the test engine. */
  docker(args: string[], timeoutMs = 60_000): Promise<RunResult> {
    return tryRun(['docker', ...args], timeoutMs, { env: withEngine() });
  }

  services(kind?: ServiceKind): string[] {
    return Object.keys(this.config.services)
      .filter((n) => !kind || this.kind(n) === kind)
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  }

  kind(service: string): ServiceKind {
    const definition = this.config.services[service];
    if (!definition) throw new Error(`${this.project} has no service ${service}`);
    return kindOf(definition);
  }

  /** The service that publishes a port on the host (the load balancer). */
  get lb(): string {
    const lb = Object.entries(this.config.services).find(([, s]) => s.ports?.length);
    if (!lb) throw new Error('no service publishes a port');
    return lb[0];
  }

  /** Where the host reaches the LB: the published port on loopback. */
  published(): Target {
    const published = this.config.services[this.lb]?.ports?.[0]?.published;
    if (!published) throw new Error(`${this.lb} publishes no port`);
    return { host: '127.0.0.1', port: Number(published) };
  }

  /** A secret file of the stack, as the containers see it. */
  secret(name: string): string {
    return readFileSync(join(this.dir, 'secrets', name), 'utf8').trim();
  }

  /** The container of a service (the first replica Compose made). */
  async container(service: string): Promise<string> {
    const labels = [`com.docker.compose.project=${this.project}`, `com.docker.compose.service=${service}`];
    const r = await this.docker(['ps', '-a', '-q', ...labels.flatMap((l) => ['--filter', `label=${l}`])]);
    const id = r.stdout.trim().split('\n')[0];
    if (!id) throw new Error(`${service} has no container`);
    return id;
  }

  private async inspect<T>(service: string, format: string): Promise<T> {
    const r = await this.docker(['inspect', '-f', `{{json ${format}}}`, await this.container(service)]);
    if (r.code !== 0) throw new Error(`docker inspect ${service}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** The service's address on one of its networks (any: the host is on all of them). */
  /** The service's IP: on `network` (a network of the stack, e.g. `app`), or on whichever it has. */
  async address(service: string, network?: string): Promise<string> {
    const networks = await this.inspect<Record<string, { IPAddress: string }>>(service, '.NetworkSettings.Networks');
    const ip = Object.entries(networks)
      .filter(([name]) => !network || name.endsWith(`_${network}`))
      .map(([, n]) => n.IPAddress)
      .find(Boolean);
    if (!ip) throw new Error(`${service} has no address${network ? ` on ${network}` : ''} (stopped or disconnected?)`);
    return ip;
  }

  async target(service: string, port: number): Promise<Target> {
    return { host: await this.address(service), port };
  }

  /** The service a stand-in's X-Standin-Instance (its container's hostname) belongs to. */
  async serviceOfHostname(hostname: string): Promise<string> {
    if (!this.hostnames.has(hostname)) {
      const lines = (await this.compose(['ps', '-a', '--format', '{{.ID}} {{.Service}}'])).trim().split('\n');
      for (const line of lines) {
        const [id = '', service = ''] = line.split(' ');
        this.hostnames.set(id.slice(0, 12), service);
      }
    }
    return this.hostnames.get(hostname) ?? hostname;
  }

  async healthStatus(service: string): Promise<string> {
    return this.inspect<{ Status: string } | null>(service, '.State.Health').then(
      (h) => h?.Status ?? 'none',
      () => 'missing',
    );
  }

  async waitHealthy(service: string, timeoutMs = 180_000): Promise<void> {
    await waitFor(`${service} to be healthy`, async () => (await this.healthStatus(service)) === 'healthy', timeoutMs, 500);
    this.log(`${service} is healthy`);
  }

  /** `docker compose kill -s SIGKILL`: the restart policy leaves a killed container down. */
  async kill(service: string): Promise<void> {
    await this.compose(['kill', '-s', 'SIGKILL', service]);
    this.log(`killed ${service}`);
  }

  /** `docker compose stop`: stop_signal, then SIGKILL after stop_grace_period. */
  async stop(service: string): Promise<void> {
    await this.compose(['stop', service], 180_000);
    this.log(`stopped ${service}`);
  }

  async startService(service: string): Promise<void> {
    await this.compose(['start', service], 180_000);
    this.log(`started ${service}`);
  }

  async restart(service: string): Promise<void> {
    await this.compose(['restart', service], 180_000);
  }

  async pause(service: string): Promise<void> {
    await this.compose(['pause', service]);
  }

  async unpause(service: string): Promise<void> {
    await this.compose(['unpause', service]);
  }

  /**
   * A crash from inside: SIGKILL to the container's own main process (by its PID on this host),
   * not `docker kill` — so the restart policy sees a process that died and starts it again.
   */
  async crashMainProcess(service: string): Promise<number> {
    const pid = await this.inspect<number>(service, '.State.Pid');
    if (!pid) throw new Error(`${service} is not running`);
    process.kill(pid, 'SIGKILL');
    this.log(`SIGKILL to ${service}'s main process (pid ${pid})`);
    return pid;
  }

  /** The processes of a service's container whose command line matches, with their PIDs on this host (`docker top`). */
  async processes(service: string, match: RegExp): Promise<{ pid: number; args: string }[]> {
    const r = await this.docker(['top', await this.container(service), '-eo', 'pid,args']);
    if (r.code !== 0) throw new Error(`docker top ${service}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .slice(1)
      .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ pid: Number(m[1]), args: m[2] ?? '' }))
      .filter((p) => match.test(p.args));
  }

  /**
   * Sends a signal to the processes of a service that match (SIGKILL, SIGSTOP, SIGCONT…), by their
   * PIDs on this host: processes this lab started, inside a container of its stack.
   */
  async signalProcesses(service: string, match: RegExp, signal: NodeJS.Signals): Promise<number[]> {
    const found = await this.processes(service, match);
    if (found.length === 0) throw new Error(`no process of ${service} matches ${match}`);
    for (const p of found) process.kill(p.pid, signal);
    this.log(`${signal} to ${service}: ${found.map((p) => `${p.pid} ${p.args}`).join('; ')}`);
    return found.map((p) => p.pid);
  }

  /**
   * Cuts the service off from some peers only (both directions), with packet filter rules inside the
   * container's own network namespace (nsenter by its PID; the host's tables are not touched).
   * `docker network disconnect` cuts a container off from everyone; this keeps the rest reachable.
   */
  async partition(service: string, peers: string[]): Promise<void> {
    const pid = String(await this.inspect<number>(service, '.State.Pid'));
    for (const peer of peers) {
      const ip = await this.address(peer);
      for (const [chain, direction] of [
        ['INPUT', '-s'],
        ['OUTPUT', '-d'],
      ] as const) {
        const r = await tryRun(['nsenter', '-t', pid, '-n', 'iptables', '-w', '-A', chain, direction, ip, '-j', 'DROP']);
        if (r.code !== 0) throw new Error(`partition ${service}: ${r.stderr}`);
      }
    }
    this.partitioned.add(service);
    this.log(`partitioned ${service} from ${peers.join(', ')}`);
  }

  /** Removes every partition() rule. */
  async heal(): Promise<void> {
    for (const service of this.partitioned) {
      const pid = String(await this.inspect<number>(service, '.State.Pid'));
      for (const chain of ['INPUT', 'OUTPUT']) await tryRun(['nsenter', '-t', pid, '-n', 'iptables', '-w', '-F', chain]);
    }
    this.partitioned.clear();
    this.log('healed all partitions');
  }

  /** `docker compose exec -T`: runs argv inside a running service, with the container's environment. */
  async exec(
    service: string,
    argv: string[],
    opts: { user?: string | number; env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const args = ['exec', '-T'];
    if (opts.user !== undefined) args.push('-u', String(opts.user));
    for (const [k, v] of Object.entries(opts.env ?? {})) args.push('-e', `${k}=${v}`);
    return this.composeTry([...args, service, ...argv], opts.timeoutMs ?? 120_000);
  }

  /** A container outside the stack on one of its networks (e.g. an "external" database); removed with the lab. */
  async runBeside(name: string, network: string, args: string[]): Promise<string> {
    await this.docker(['rm', '-f', name]);
    const r = await this.docker(
      ['run', '-d', '--pull', 'never', '--name', name, '--network', `${this.project}_${network}`, '--network-alias', name, ...args],
      120_000,
    );
    if (r.code !== 0) throw new Error(`docker run ${name}: ${r.stderr}`);
    this.extraContainers.push(name);
    return r.stdout.trim();
  }

  async logs(service: string): Promise<string> {
    return (await this.composeTry(['logs', '--no-color', service])).stdout;
  }

  /** Removes every container, network and volume of the stack (and the stack folder when asked). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      for (const name of this.extraContainers) quiet(['docker', 'rm', '-f', '-v', name]);
      if (process.env.GGHA_LAB_KEEP === '1') console.log(`lab: kept project ${this.project} in ${this.dir}`);
      else if (this.config) removeProject(this.project);
      if (this.opts.removeStackDir && process.env.GGHA_LAB_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
    } finally {
      liveLabs.delete(this);
      if (!liveLabs.size && !this.opts.lockHeld) releaseLabLock();
    }
  }
}

function quiet(argv: string[]): string {
  try {
    const [file = '', ...args] = argv;
    return execFileSync(file, args, { env: withEngine(), timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return '';
  }
}

/** Synchronous (exit handlers run it too): every container, volume and network Compose made for the project. */
export function removeProject(project: string): void {
  const label = `label=com.docker.compose.project=${project}`;
  const ids = (kind: string[]) =>
    quiet(['docker', ...kind, '-q', '--filter', label])
      .split('\n')
      .filter(Boolean);
  const containers = ids(['ps', '-a']);
  if (containers.length) quiet(['docker', 'rm', '-f', '-v', ...containers]);
  const volumes = ids(['volume', 'ls']);
  if (volumes.length) quiet(['docker', 'volume', 'rm', '-f', ...volumes]);
  // A container of another project may have been attached to one of ours (two projects sharing a network).
  for (const network of ids(['network', 'ls'])) {
    for (const c of quiet(['docker', 'network', 'inspect', '-f', '{{range $id, $c := .Containers}}{{$id}} {{end}}', network])
      .split(/\s+/)
      .filter(Boolean)) {
      quiet(['docker', 'network', 'disconnect', '-f', network, c]);
    }
    quiet(['docker', 'network', 'rm', network]);
  }
}

const liveLabs = new Set<StackLab>();
let handlersInstalled = false;
/** Cleans up on any exit of this process, including Ctrl-C and a crashed test. */
function registerCleanup(lab: StackLab): void {
  liveLabs.add(lab);
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => liveLabs.forEach((l) => l.destroy()));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      liveLabs.forEach((l) => l.destroy());
      process.exit(130);
    });
  }
}
