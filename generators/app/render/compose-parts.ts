/**
 * The pieces every compose.yaml service is made of (hardening, limits, health checks), shared by
 * compose.ts and the database modes that add their own services. Keys in each service follow the
 * conventional order (dclint's service-keys-order).
 */
import type { SecretSpec } from '../topology.js';

export type Services = Record<string, unknown>;
export type Volumes = Record<string, Record<string, never>>;

/**
 * Enough for PostgreSQL to checkpoint and stop, and for Patroni to release the
 * leader key first (Docker's default of 10 s would turn a clean stop into a full-ttl failover).
 */
export const POSTGRES_STOP_GRACE = '60s';

/** Every service: no capability, unless `add` names the few its image's entrypoint needs (and says why). */
export const hardening = (add?: string[]) => ({ ...(add ? { cap_add: add } : {}), cap_drop: ['ALL'] });

/**
 * The official postgres image's entrypoint starts as root: it creates and chmods the data and socket
 * directories, chowns them to postgres, then steps down to postgres with gosu.
 */
export const POSTGRES_ENTRYPOINT_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'];

/** Every service: a memory limit and no privilege escalation (the last keys in dclint's order). */
export const limits = (memory: string) => ({
  deploy: { resources: { limits: { memory } } },
  security_opt: ['no-new-privileges:true'],
});

/**
 * An HTTP probe for images without curl/wget (HAProxy, nginx, PostgreSQL are
 * Debian-based and have bash): 0 only on an HTTP 200 status line.
 */
export function httpProbe(port: number, path: string): string[] {
  const script =
    `exec 3<>/dev/tcp/127.0.0.1/${port} && ` +
    `printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && ` +
    `head -n 1 <&3 | grep -q ' 200 '`;
  return ['CMD', 'bash', '-c', script];
}

export const healthcheck = (test: string[], startPeriod = '30s') => ({
  test,
  interval: '5s',
  timeout: '3s',
  retries: 5,
  start_period: startPeriod,
});

/** The names of the secrets a service mounts (those this stack has). */
export const uses = (...secrets: (SecretSpec | undefined)[]) => secrets.filter((s) => s !== undefined).map((s) => s.name);
