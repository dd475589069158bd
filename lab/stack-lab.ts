/**
 * The stack lab: runs a folder the generator wrote with real programs, each
 * compose service in its own network namespace (`ggha-<service>`) and its own
 * mount namespace on top of the Debian toolchain tree (chroot), and offers the
 * controls a failure test needs: kill, stop, start, restart, partition, heal.
 *
 * Mapped (and only these): binaries and users (see programs.ts), data
 * folders (named volumes → folders in the lab's temp dir), name resolution
 * (a hosts file with every service, plus dns-standin.ts at 127.0.0.11 where a
 * config names Docker's DNS), /proc, /run, /tmp and /dev/shm per service.
 * Config files are bind-mounted at the paths compose.yaml names, unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCompose, startOrder, type ComposeModel, type ServiceSpec } from './compose-model.js';
import { createEndpoint, createHub, destroyAllSync, heal, HUB_NS, nsName, partition, pidsIn, setAttached, type Endpoint } from './network.js';
import { acquireLabLock, releaseLabLock } from './lab-lock.js';
import { programFor, STANDIN_LAB_ROOT, STANDIN_NODE, type Program } from './programs.js';
import { run, shq, sleep, tryRun, waitFor } from './shell.js';

export const TOOLCHAIN_ROOT = process.env.GGHA_TOOLCHAIN ?? '/var/cache/generator-grafana-ha/forky';
/** The repository root (lab/ or dist/lab/ lives below it). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), existsSync(join(dirname(fileURLToPath(import.meta.url)), '../package.json')) ? '..' : '../..');
const CLIENT = 'client';

/** Why the lab cannot run here, or null when it can. */
export function labUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'the stack lab needs root (network namespaces, chroot)';
  if (!existsSync(join(TOOLCHAIN_ROOT, '.ggha-toolchain'))) return `no toolchain at ${TOOLCHAIN_ROOT} (run: sudo bash lab/toolchain.sh)`;
  if (!existsSync(join(REPO_ROOT, 'dist/lab/grafana-standin.js'))) return 'dist/lab is not built (run: npm run build)';
  return null;
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
}

export interface LabOptions {
  /** Lines go to this function (default: nowhere; the logs are in <tempdir>/logs). */
  log?: (line: string) => void;
  /** How long to wait for each service_healthy dependency. */
  healthyTimeoutMs?: number;
  /** Delete the stack folder too on destroy() (for folders the lab's caller generated into a temp dir). */
  removeStackDir?: boolean;
  /** Hosts outside the stack on the same network (name → ports forwarded to the host), e.g. an external DB. */
  extraHosts?: { name: string; ports: number[] }[];
  /** Runs once the network exists, before any service starts (e.g. to start an external database). */
  beforeServices?: (lab: StackLab) => Promise<void>;
  /**
   * Services of ANOTHER generated stack to run on the same network, started (and healthy) before this
   * stack's: e.g. the database tier of a Patroni stack (etcd-*, pg-*, db-router) that an `external`
   * stack's Grafana uses, like two Compose projects sharing a network. Names must not collide.
   */
  otherProject?: { dir: string; services: (name: string) => boolean };
}

export class StackLab {
  /** compose.yaml as last read (reloadCompose() re-reads it after a re-run of the generator). */
  model: ComposeModel;
  readonly tempDir: string;
  readonly endpoints = new Map<string, Endpoint>();
  readonly programs = new Map<string, Program>();
  private readonly running = new Map<string, Running>();
  /** Lab helper processes (DNS stand-ins, forwarder): never counted as a service's processes. */
  private readonly helperPids = new Set<number>();
  /** The compose definition each running service was started with (what `up` compares to recreate). */
  private readonly startedDefinitions = new Map<string, string>();
  /** Hosts outside the stack on the lab network (addHost), with the ports the forwarder exposes. */
  private readonly extraHosts = new Map<string, number[]>();
  private readonly log: (line: string) => void;
  private destroyed = false;

  private constructor(stackDir: string, private readonly opts: LabOptions) {
    this.model = this.withOtherProject(loadCompose(stackDir));
    this.tempDir = mkdtempSync(join(tmpdir(), 'ggha-lab-'));
    this.log = opts.log ?? (() => {});
    for (const s of this.model.services) this.programs.set(s.name, programFor(s));
  }

  /** Creates the network, starts every service in depends_on order, waits for healthy ones. */
  static async start(stackDir: string, opts: LabOptions = {}): Promise<StackLab> {
    const reason = labUnavailableReason();
    if (reason) throw new Error(reason);
    await acquireLabLock();
    destroyAllSync(); // leftovers of a crashed run (the lock says no live lab owns them)
    const lab = new StackLab(stackDir, opts);
    registerCleanup(lab);
    try {
      await lab.createNetwork();
      await opts.beforeServices?.(lab);
      const other = new Set(lab.otherServices);
      const groups = [lab.model.services.filter((s) => other.has(s.name)), lab.model.services.filter((s) => !other.has(s.name))];
      for (const wave of groups.flatMap((services, i) => [...startOrder({ ...lab.model, services }), ...(i === 0 && services.length ? [[]] : [])])) {
        if (!wave.length) {
          for (const s of other) await lab.waitHealthy(s, opts.healthyTimeoutMs ?? 180_000); // the other project first
          continue;
        }
        for (const spec of wave) {
          for (const dep of spec.dependsOn.filter((d) => d.condition === 'service_healthy')) {
            await lab.waitHealthy(dep.service, opts.healthyTimeoutMs ?? 180_000);
          }
          await lab.startService(spec.name);
        }
      }
      return lab;
    } catch (error) {
      lab.destroy();
      throw error;
    }
  }

  spec(service: string): ServiceSpec {
    const s = this.model.services.find((x) => x.name === service);
    if (!s) throw new Error(`no service ${service}`);
    return s;
  }

  services(kind?: Program['kind']): string[] {
    return this.model.services.map((s) => s.name).filter((n) => !kind || this.programs.get(n)!.kind === kind);
  }

  /** Unix socket folder reaching `service`'s TCP `port` (socket file `.s.PGSQL.<port>`). */
  socketDir(service: string): string {
    return join(this.tempDir, 'sock', service);
  }

  socketPath(service: string, port: number): string {
    return join(this.socketDir(service), `.s.PGSQL.${port}`);
  }

  logFile(service: string): string {
    return join(this.tempDir, 'logs', `${service}.log`);
  }

  private async createNetwork(): Promise<void> {
    await createHub();
    const names = [...this.model.services.map((s) => s.name), CLIENT, ...(this.opts.extraHosts ?? []).map((h) => h.name)];
    for (const [i, name] of names.entries()) this.endpoints.set(name, await createEndpoint(name, i));
    for (const h of this.opts.extraHosts ?? []) this.extraHosts.set(h.name, h.ports);
    mkdirSync(join(this.tempDir, 'logs'));
    const routes = this.writeNetworkFiles();
    for (const spec of this.model.services) await this.startDnsIfUsed(spec.name);
    await this.startHelper(nsName(CLIENT), 'forwarder', ['unix-forwarder.js', join(this.tempDir, 'routes.json')]);
    await waitFor('the forwarder', async () => routes.every((r) => existsSync(r.socket)), 10_000, 100);
  }

  private async startDnsIfUsed(service: string): Promise<void> {
    if (this.programs.get(service)!.usesDockerDns) {
      await this.startHelper(nsName(service), `dns-${service}`, ['dns-standin.js', join(this.tempDir, 'dns.json')]);
    }
  }

  /**
   * (Re)writes the hosts file (in place: the services' bind mounts see the new names), the DNS
   * stand-ins' table and the forwarder's routes (both re-read their file when it changes).
   */
  private writeNetworkFiles(): { socket: string; host: string; port: number }[] {
    const hosts = ['127.0.0.1 localhost', ...[...this.endpoints.values()].map((e) => `${e.ip} ${e.service}`)].join('\n') + '\n';
    writeFileSync(join(this.tempDir, 'hosts'), hosts);
    const table = Object.fromEntries([...this.endpoints.values()].map((e) => [e.service, e.ip]));
    writeFileSync(join(this.tempDir, 'dns.json'), JSON.stringify(table));
    const portsOf = (name: string) => this.extraHosts.get(name) ?? this.programs.get(name)?.ports ?? [];
    const routes = [...this.endpoints.keys()].filter((n) => n !== CLIENT).flatMap((name) => {
      mkdirSync(this.socketDir(name), { recursive: true });
      return portsOf(name).map((port) => ({ socket: this.socketPath(name, port), host: this.endpoints.get(name)!.ip, port }));
    });
    writeFileSync(join(this.tempDir, 'routes.json'), JSON.stringify(routes));
    return routes;
  }

  /**
   * Re-reads compose.yaml (after a re-run of the generator rewrote it): new services get their
   * namespace, address, name and forwarded ports; running services keep running as they are.
   * Returns the names of the services that were not in the previous model.
   */
  async reloadCompose(): Promise<string[]> {
    const model = this.withOtherProject(loadCompose(this.model.dir));
    const added = model.services.filter((s) => !this.endpoints.has(s.name)).map((s) => s.name);
    this.model = model;
    for (const s of model.services) this.programs.set(s.name, programFor(s));
    for (const name of added) this.endpoints.set(name, await createEndpoint(name, this.endpoints.size));
    const routes = this.writeNetworkFiles();
    for (const name of added) await this.startDnsIfUsed(name);
    await waitFor('the forwarder to serve the new services', async () => routes.every((r) => existsSync(r.socket)), 10_000, 100);
    if (added.length) this.log(`compose.yaml re-read: new services ${added.join(', ')}`);
    return added;
  }

  /** Services that belong to LabOptions.otherProject. */
  otherServices: string[] = [];

  private withOtherProject(model: ComposeModel): ComposeModel {
    const o = this.opts.otherProject;
    if (!o) return model;
    const extra = loadCompose(o.dir).services.filter((s) => o.services(s.name));
    const clash = extra.filter((s) => model.services.some((m) => m.name === s.name)).map((s) => s.name);
    if (clash.length) throw new Error(`otherProject: ${clash.join(', ')} exist in both stacks`);
    this.otherServices = extra.map((s) => s.name);
    return { ...model, services: [...extra, ...model.services] };
  }

  /** True when compose.yaml now defines a running service differently from how it was started. */
  definitionChanged(service: string): boolean {
    const started = this.startedDefinitions.get(service);
    return started !== undefined && started !== this.spec(service).definition;
  }

  /** Running services, including ones compose.yaml no longer names (orphans). */
  runningServices(): string[] {
    return [...this.running.keys()];
  }

  /**
   * A host outside the stack (e.g. an "external" database) runs `script` (sh, as root, in its own
   * namespace on the lab network and its own mount namespace); the host needs to be declared in
   * LabOptions.extraHosts. Its processes die with the lab.
   */
  runOnHost(host: string, script: string): ChildProcess {
    if (!this.extraHosts.has(host)) throw new Error(`${host} is not an extra host of this lab`);
    const out = openSync(this.logFile(host), 'a');
    const child = spawn('ip', ['netns', 'exec', nsName(host), 'unshare', '--mount', '--uts', '--propagation', 'private', '/bin/sh', '-c', script], { stdio: ['ignore', out, out], detached: true });
    closeSync(out);
    child.unref();
    return child;
  }

  /** Path of the lab's hosts file (bind-mount it over /etc/hosts in a chroot run with runOnHost). */
  get hostsFile(): string {
    return join(this.tempDir, 'hosts');
  }

  /** A lab helper (Node, from dist/lab) inside a namespace. */
  private async startHelper(ns: string, name: string, args: string[]): Promise<void> {
    const out = openSync(this.logFile(name), 'a');
    const [script, ...rest] = args;
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(REPO_ROOT, 'dist/lab', script), ...rest], {
      stdio: ['ignore', out, out],
      detached: true,
    });
    closeSync(out);
    child.unref();
    if (child.pid) this.helperPids.add(child.pid);
    await sleep(50);
  }

  private uidOf(name: string | number, file: 'passwd' | 'group'): number {
    if (typeof name === 'number') return name;
    const line = readFileSync(join(TOOLCHAIN_ROOT, 'etc', file), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${name}:`));
    if (!line) throw new Error(`no ${file} entry ${name} in the toolchain`);
    return Number(line.split(':')[2]);
  }

  /** Makes sure a bind-mount target exists in the toolchain tree (a file or a folder, like its source). */
  private ensureTarget(target: string, asFile: boolean): void {
    const path = join(TOOLCHAIN_ROOT, target);
    if (existsSync(path)) return;
    mkdirSync(asFile ? dirname(path) : path, { recursive: true });
    if (asFile) writeFileSync(path, '');
  }

  /** The shell script that builds the service's mount namespace and execs its program. */
  private launchScript(spec: ServiceSpec, program: Program): string {
    const R = TOOLCHAIN_ROOT;
    const lines = ['set -e', `hostname ${shq(spec.name)}`, `mount -t proc proc ${shq(R + '/proc')}`];
    lines.push(`mount -t tmpfs -o mode=755 tmpfs ${shq(R + '/run')}`);
    lines.push(`mount -t tmpfs -o mode=1777 tmpfs ${shq(R + '/tmp')}`);
    lines.push(`mount -t tmpfs -o mode=1777,size=${spec.shmSizeBytes ?? 64 << 20} tmpfs ${shq(R + '/dev/shm')}`);
    lines.push(`mount --bind ${shq(join(this.tempDir, 'hosts'))} ${shq(R + '/etc/hosts')}`);
    const uid = this.uidOf(program.user, 'passwd');
    const gid = this.uidOf(program.group, 'group');
    for (const d of program.imageDirs.filter((x) => x.path.startsWith('/run/'))) {
      lines.push(`mkdir -p ${shq(R + d.path)}`, `chown ${this.uidOf(d.owner, 'passwd')} ${shq(R + d.path)}`);
    }
    // Compose file secrets are bind mounts of the host file at /run/secrets/<name> (owner and mode kept).
    if (spec.secrets.length) lines.push(`mkdir -p ${shq(R + '/run/secrets')}`);
    for (const s of spec.secrets) {
      const t = `${R}/run/secrets/${s.name}`;
      lines.push(`touch ${shq(t)}`, `mount --bind ${shq(s.hostPath)} ${shq(t)}`, `mount -o remount,bind,ro ${shq(t)}`);
    }
    const binds: { src: string; target: string; ro: boolean }[] = [];
    for (const m of spec.mounts) {
      const src = m.hostPath ?? this.volumePath(m.volume!, m.target, program);
      binds.push({ src, target: m.target, ro: m.readOnly });
    }
    for (const f of program.imageFiles) binds.push({ src: f.hostPath, target: f.target, ro: true });
    if (program.kind === 'grafana-standin') {
      binds.push({ src: process.execPath, target: STANDIN_NODE, ro: true }, { src: REPO_ROOT, target: STANDIN_LAB_ROOT, ro: true });
    }
    for (const b of binds) {
      this.ensureTarget(b.target, statSync(b.src).isFile());
      const t = R + b.target;
      lines.push(`mount --bind ${shq(b.src)} ${shq(t)}`);
      if (b.ro) lines.push(`mount -o remount,bind,ro ${shq(t)}`);
    }
    const env = this.containerEnv(spec.name);
    const setpriv = ['/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];
    if (spec.noNewPrivileges) setpriv.push('--no-new-privs');
    if (spec.dropAllCaps) setpriv.push('--bounding-set=-all', '--inh-caps=-all');
    const argv = ['chroot', R, ...setpriv, '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...program.argv];
    lines.push(`exec ${argv.map(shq).join(' ')}`);
    return lines.join('\n');
  }

  /** The container's environment: image ENV lines, then compose's `environment` (what `docker exec` gets too). */
  containerEnv(service: string): Record<string, string> {
    const spec = this.spec(service);
    const program = this.programs.get(service)!;
    return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: spec.name, ...program.imageEnv, ...spec.environment };
  }

  /** A named volume: a folder in the temp dir, first owned like the image's folder at that path. */
  private volumePath(volume: string, target: string, program: Program): string {
    const path = join(this.tempDir, 'volumes', volume);
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true });
      const dir = program.imageDirs.find((d) => d.path === target);
      if (dir) {
        const uid = this.uidOf(dir.owner, 'passwd');
        chownSync(path, uid, typeof dir.owner === 'number' ? 0 : this.uidOf(dir.owner, 'group'));
        chmodSync(path, 0o700);
      }
    }
    return path;
  }

  async startService(service: string): Promise<void> {
    if (this.running.has(service)) throw new Error(`${service} is already running`);
    const spec = this.spec(service);
    const program = this.programs.get(service)!;
    await setAttached(this.endpoints.get(service)!, true);
    const out = openSync(this.logFile(service), 'a');
    // runc hands stdout/stderr to the container's user (nginx reopens /dev/stdout as that user).
    chownSync(this.logFile(service), this.uidOf(program.user, 'passwd'), this.uidOf(program.group, 'group'));
    const child = spawn('ip', ['netns', 'exec', nsName(service), 'unshare', '--mount', '--uts', '--propagation', 'private', '/bin/sh', '-c', this.launchScript(spec, program)], {
      stdio: ['ignore', out, out],
      detached: true,
    });
    closeSync(out);
    child.unref();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.running.set(service, { child, exited });
    this.startedDefinitions.set(service, spec.definition);
    exited.then(() => {
      if (this.running.get(service)?.child === child) this.running.delete(service);
    });
    this.log(`started ${service} (pid ${child.pid})`);
  }

  /** PIDs of the service's own processes (its namespace, minus the lab's helpers). */
  async servicePids(service: string): Promise<number[]> {
    return (await pidsIn(nsName(service))).filter((p) => !this.helperPids.has(p));
  }

  isRunning(service: string): boolean {
    return this.running.has(service);
  }

  /** SIGKILL to every process of the service (`docker kill`). */
  async kill(service: string): Promise<void> {
    for (const pid of await this.servicePids(service)) signal(pid, 'SIGKILL');
    await waitFor(`${service} to die`, async () => (await this.servicePids(service)).length === 0, 10_000, 50);
    this.running.delete(service);
    await setAttached(this.endpoints.get(service)!, false);
    this.log(`killed ${service}`);
  }

  /** stop_signal to the main process, SIGKILL after stop_grace_period (`docker stop`). */
  async stop(service: string): Promise<void> {
    const spec = this.spec(service);
    const r = this.running.get(service);
    if (r?.child.pid) {
      signal(r.child.pid, spec.stopSignal);
      await Promise.race([r.exited, sleep(spec.stopGraceMs)]);
    }
    // Like Docker: once the main process is gone, whatever is left in the container dies.
    await this.kill(service);
    this.log(`stopped ${service}`);
  }

  async restart(service: string): Promise<void> {
    await this.stop(service);
    await this.startService(service);
  }

  /** Cuts `service` off from `peers` (both directions) until heal(). */
  async partition(service: string, peers: string[]): Promise<void> {
    await partition(this.endpoints.get(service)!, peers.map((p) => this.endpoints.get(p)!));
    this.log(`partitioned ${service} from ${peers.join(', ')}`);
  }

  async heal(): Promise<void> {
    await heal([...this.endpoints.values()]);
    this.log('healed all partitions');
  }

  /** Runs the compose healthcheck command inside the service (same namespaces, root and user). */
  async healthcheck(service: string): Promise<boolean> {
    const spec = this.spec(service);
    const pid = this.running.get(service)?.child.pid;
    if (!spec.healthcheck || !pid) return !!pid;
    const program = this.programs.get(service)!;
    const uid = this.uidOf(program.user, 'passwd');
    const gid = this.uidOf(program.group, 'group');
    const r = await tryRun(
      ['nsenter', '-t', String(pid), '-n', '-m', '-u', '-r', '-w', '/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', ...spec.healthcheck.argv],
      spec.healthcheck.timeoutMs,
    );
    return r.code === 0;
  }

  async waitHealthy(service: string, timeoutMs = 180_000): Promise<void> {
    await waitFor(`${service} to be healthy`, () => this.healthcheck(service), timeoutMs, 1000);
    this.log(`${service} is healthy`);
  }

  /** Runs a command inside a running service (namespaces + chroot), as `user`. */
  async exec(service: string, argv: string[], user: string | number = this.programs.get(service)!.user, timeoutMs = 30_000) {
    const pid = this.running.get(service)?.child.pid;
    if (!pid) throw new Error(`${service} is not running`);
    const uid = this.uidOf(user, 'passwd');
    return tryRun(['nsenter', '-t', String(pid), '-n', '-m', '-u', '-r', '-w', '/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${uid === 0 ? 0 : this.uidOf(user, 'group')}`, '--clear-groups', ...argv], timeoutMs);
  }

  /**
   * `docker exec`: runs argv inside a running service with the container's environment only (image
   * ENV + compose environment, nothing from the caller), as the image's user unless `user` is given.
   */
  async composeExec(service: string, argv: string[], opts: { user?: string | number; env?: Record<string, string>; timeoutMs?: number } = {}) {
    const env = { ...this.containerEnv(service), ...opts.env };
    return this.exec(service, ['/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv], opts.user ?? this.programs.get(service)!.user, opts.timeoutMs ?? 120_000);
  }

  /** `docker kill -s <signal>`: the signal goes to the container's main process. */
  signalMain(service: string, sig: NodeJS.Signals): void {
    const pid = this.running.get(service)?.child.pid;
    if (!pid) throw new Error(`${service} is not running`);
    signal(pid, sig);
    this.log(`${sig} to ${service}`);
  }

  /** Kills everything, deletes the namespaces and the temp dir (keeps it when GGHA_LAB_KEEP=1). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    destroyAllSync();
    liveLabs.delete(this);
    if (!liveLabs.size) releaseLabLock();
    if (process.env.GGHA_LAB_KEEP !== '1') {
      try {
        rmSync(this.tempDir, { recursive: true, force: true });
        if (this.opts.removeStackDir) rmSync(this.model.dir, { recursive: true, force: true });
      } catch {
        /* a mount still busy: left for the next run's cleanup */
      }
    } else {
      console.log(`lab: kept ${this.tempDir}`);
    }
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
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

export { HUB_NS };
