/**
 * Reads the compose.yaml the generator wrote into the few facts the lab needs
 * to start each service as a real program: environment, mounts, secrets,
 * healthcheck, stop grace period, start order. Nothing here is rewritten.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';

export interface Mount {
  /** Absolute host path (bind) or null for a named volume. */
  hostPath: string | null;
  /** Named volume, e.g. `pg-1-data`. */
  volume: string | null;
  target: string;
  readOnly: boolean;
}

export interface Healthcheck {
  /** argv to run inside the service (CMD-SHELL becomes /bin/sh -c). */
  argv: string[];
  timeoutMs: number;
  /** Docker runs the check every `interval` (`start_interval` during the start period), first one after it. */
  intervalMs: number;
}

export interface ServiceSpec {
  name: string;
  image: string;
  /** Present when the image is built from a local folder (the Patroni image). */
  buildContext: string | null;
  environment: Record<string, string>;
  mounts: Mount[];
  secrets: { name: string; hostPath: string }[];
  healthcheck: Healthcheck | null;
  stopSignal: NodeJS.Signals;
  stopGraceMs: number;
  dependsOn: { service: string; condition: string }[];
  shmSizeBytes: number | null;
  /** `cap_drop: [ALL]` */
  dropAllCaps: boolean;
  noNewPrivileges: boolean;
  /** host:container port pairs (only the load balancer publishes any). */
  ports: { host: number; container: number }[];
  /** The service's compose definition minus depends_on: like Compose's config hash, it decides what `up` recreates. */
  definition: string;
}

export interface ComposeModel {
  dir: string;
  project: string;
  services: ServiceSpec[];
}

/** Compose durations: `60s`, `1m30s`, `500ms`. */
export function parseDuration(value: unknown, fallbackMs: number): number {
  if (value === undefined || value === null) return fallbackMs;
  let ms = 0;
  for (const [, n, unit] of String(value).matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) {
    ms += Number(n) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[unit as 'h' | 'm' | 's' | 'ms' | 'us'];
  }
  return ms;
}

function parseBytes(value: unknown): number | null {
  if (value === undefined) return null;
  const m = /^(\d+)([kmg]?)b?$/i.exec(String(value));
  if (!m) return null;
  return Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g']);
}

function parseHealthcheck(raw: any): Healthcheck | null {
  if (!raw?.test) return null;
  const test: string[] = Array.isArray(raw.test) ? raw.test.map(String) : ['CMD-SHELL', String(raw.test)];
  const [kind, ...rest] = test;
  const argv = kind === 'CMD' ? rest : kind === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : [];
  const intervalMs = parseDuration(raw.start_interval ?? raw.interval, 30_000);
  return argv.length ? { argv, timeoutMs: parseDuration(raw.timeout, 30_000), intervalMs } : null;
}

export function loadCompose(dir: string): ComposeModel {
  const doc = load(readFileSync(join(dir, 'compose.yaml'), 'utf8')) as any;
  const secretFiles: Record<string, string> = {};
  for (const [name, spec] of Object.entries<any>(doc.secrets ?? {})) secretFiles[name] = join(dir, spec.file);

  const services = Object.entries<any>(doc.services ?? {}).map(([name, s]): ServiceSpec => {
    const environment: Record<string, string> = {};
    if (Array.isArray(s.environment)) {
      for (const kv of s.environment) {
        const i = String(kv).indexOf('=');
        environment[String(kv).slice(0, i)] = String(kv).slice(i + 1);
      }
    } else {
      for (const [k, v] of Object.entries(s.environment ?? {})) environment[k] = String(v);
    }
    const mounts = (s.volumes ?? []).map((v: string): Mount => {
      const [source, target, mode] = String(v).split(':');
      const isPath = source.startsWith('.') || source.startsWith('/');
      return {
        hostPath: isPath ? join(dir, source) : null,
        volume: isPath ? null : source,
        target,
        readOnly: mode === 'ro',
      };
    });
    const secrets = (s.secrets ?? []).map((x: any) => {
      const secretName = typeof x === 'string' ? x : x.source;
      return { name: secretName, hostPath: secretFiles[secretName] };
    });
    const dependsOn = Array.isArray(s.depends_on)
      ? s.depends_on.map((d: string) => ({ service: d, condition: 'service_started' }))
      : Object.entries<any>(s.depends_on ?? {}).map(([d, c]) => ({ service: d, condition: c?.condition ?? 'service_started' }));
    // Short syntax ("8080:3000", "127.0.0.1:8080:3000") or long syntax ({ target, published }).
    const ports = (s.ports ?? []).map((p: any) => {
      if (typeof p === 'object') return { host: Number(p.published ?? p.target), container: Number(p.target) };
      const parts = String(p).split(':').map(Number);
      return { host: parts[parts.length - 2] ?? parts[0], container: parts[parts.length - 1] };
    });
    return {
      name,
      image: String(s.image ?? ''),
      buildContext: s.build ? join(dir, typeof s.build === 'string' ? s.build : s.build.context) : null,
      environment,
      mounts,
      secrets,
      healthcheck: parseHealthcheck(s.healthcheck),
      stopSignal: (s.stop_signal ?? 'SIGTERM') as NodeJS.Signals,
      stopGraceMs: parseDuration(s.stop_grace_period, 10_000),
      dependsOn,
      shmSizeBytes: parseBytes(s.shm_size),
      dropAllCaps: (s.cap_drop ?? []).includes('ALL'),
      noNewPrivileges: (s.security_opt ?? []).some((o: string) => String(o).startsWith('no-new-privileges')),
      ports,
      definition: JSON.stringify({ ...s, depends_on: undefined }),
    };
  });
  return { dir, project: String(doc.name ?? 'stack'), services };
}

/** Services in an order that honours depends_on (compose starts them the same way). */
export function startOrder(model: ComposeModel): ServiceSpec[][] {
  const done = new Set<string>();
  const waves: ServiceSpec[][] = [];
  let left = [...model.services];
  while (left.length) {
    const wave = left.filter((s) => s.dependsOn.every((d) => done.has(d.service)));
    if (!wave.length) throw new Error(`depends_on cycle among ${left.map((s) => s.name).join(', ')}`);
    waves.push(wave);
    for (const s of wave) done.add(s.name);
    left = left.filter((s) => !wave.includes(s));
  }
  return waves;
}
