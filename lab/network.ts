/**
 * The lab's network: one namespace per service (`ggha-<service>`), all wired
 * to a bridge that lives in its own namespace (`ggha-hub`), so the host never
 * gets an address on it. Addresses come from a private /24. Partitions are
 * blackhole routes inside the namespaces (packets vanish, as in a real split).
 */
import { run, runSyncQuiet, tryRun } from './shell.js';

export const NS_PREFIX = 'ggha-';
export const HUB_NS = `${NS_PREFIX}hub`;
/** Private subnet used only inside the lab's namespaces. */
export const SUBNET_PREFIX = '10.213.47.';
const BRIDGE = 'br0';

export const nsName = (service: string) => `${NS_PREFIX}${service}`;

export interface Endpoint {
  service: string;
  ns: string;
  ip: string;
  /** Bridge-side veth name inside the hub namespace. */
  hubVeth: string;
}

export async function createHub(): Promise<void> {
  await run(['ip', 'netns', 'add', HUB_NS]);
  await run(['ip', '-n', HUB_NS, 'link', 'add', BRIDGE, 'type', 'bridge']);
  await run(['ip', '-n', HUB_NS, 'link', 'set', BRIDGE, 'up']);
}

/** Creates the namespace of one service (or lab client) and plugs it into the bridge. */
export async function createEndpoint(service: string, index: number): Promise<Endpoint> {
  const ns = nsName(service);
  const ip = `${SUBNET_PREFIX}${10 + index}`;
  const hubVeth = `vh${index}`;
  await run(['ip', 'netns', 'add', ns]);
  await run(['ip', '-n', HUB_NS, 'link', 'add', hubVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  await run(['ip', '-n', HUB_NS, 'link', 'set', hubVeth, 'master', BRIDGE, 'up']);
  await run(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
  await run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
  await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  return { service, ns, ip, hubVeth };
}

/**
 * Docker removes a stopped container's network endpoint; peers then see
 * timeouts rather than refused connections. The lab does the same by taking
 * the bridge port down while a service is stopped.
 */
export async function setAttached(ep: Endpoint, attached: boolean): Promise<void> {
  await run(['ip', '-n', HUB_NS, 'link', 'set', ep.hubVeth, attached ? 'up' : 'down']);
}

/** Cuts `a` off from each of `peers`, in both directions. */
export async function partition(a: Endpoint, peers: Endpoint[]): Promise<void> {
  for (const p of peers) {
    await run(['ip', '-n', a.ns, 'route', 'add', 'blackhole', `${p.ip}/32`]);
    await run(['ip', '-n', p.ns, 'route', 'add', 'blackhole', `${a.ip}/32`]);
  }
}

/** Removes every blackhole route in the given namespaces. */
export async function heal(endpoints: Endpoint[]): Promise<void> {
  for (const ep of endpoints) {
    const routes = (await tryRun(['ip', '-n', ep.ns, 'route', 'show', 'type', 'blackhole'])).stdout;
    for (const line of routes.split('\n').filter(Boolean)) {
      const dest = line.trim().split(/\s+/)[1];
      await tryRun(['ip', '-n', ep.ns, 'route', 'del', 'blackhole', dest]);
    }
  }
}

/** PIDs of every process living in a namespace. */
export async function pidsIn(ns: string): Promise<number[]> {
  const out = (await tryRun(['ip', 'netns', 'pids', ns])).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

/** Every lab namespace present on the machine (also ones left by a crashed run). */
export function labNamespacesSync(): string[] {
  return runSyncQuiet(['ip', 'netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(NS_PREFIX));
}

/** Kills every process in the lab's namespaces and deletes them. Synchronous: safe in exit handlers. */
export function destroyAllSync(): void {
  const namespaces = labNamespacesSync();
  for (const ns of namespaces) {
    for (const pid of runSyncQuiet(['ip', 'netns', 'pids', ns]).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const ns of namespaces) runSyncQuiet(['ip', 'netns', 'del', ns]);
}
