/**
 * Secrets: random, created once, never rewritten (a new DB password or
 * secret_key would lock Grafana out of its own data), never printed.
 */
import { randomBytes } from 'node:crypto';
import type { SecretKey, SecretSpec } from './topology.js';

/**
 * Compose bind-mounts file secrets with their host owner and mode (uid/gid/mode
 * are ignored without Swarm, docker/compose#9648), so a 0600 file would be
 * unreadable for Grafana (uid 472) or PostgreSQL (uid 999) in their containers.
 * The files are world-readable; the folder holding them is owner-only, which
 * keeps every other host user out.
 */
export const SECRET_FILE_MODE = 0o644;
export const SECRETS_DIR_MODE = 0o700;

/** 256 random bits, URL-safe: valid unquoted in YAML, INI, URLs and SQL literals alike. */
export const generateSecret = (): string => randomBytes(32).toString('base64url');

export interface SecretWrite {
  spec: SecretSpec;
  value: string;
}

/**
 * Which secret files to write: missing ones get a random value, except those
 * the user provides (the external database's password), which are written as
 * given. A secret the previous run already used and that is now missing is a
 * problem: a new value would lock the stack out of its own data, unless the
 * stack never started (`createMissing`).
 */
export function planSecrets(options: {
  specs: Partial<Record<SecretKey, SecretSpec>>;
  exists: (file: string) => boolean;
  provided: Partial<Record<SecretKey, string>>;
  /** The secrets of the previous run, if any. */
  previous?: Partial<Record<SecretKey, SecretSpec>>;
  createMissing: boolean;
}): { writes: SecretWrite[]; problems: string[] } {
  const writes: SecretWrite[] = [];
  const problems: string[] = [];
  for (const [key, spec] of Object.entries(options.specs) as [SecretKey, SecretSpec][]) {
    const provided = options.provided[key];
    if (provided !== undefined) writes.push({ spec, value: provided });
    else if (options.exists(spec.file)) continue;
    else if (options.previous?.[key] && !options.createMissing) {
      problems.push(
        `${spec.file} is missing (${spec.purpose}): restore it from your backup; a new value would lock the stack out of its own data. If the stack has never been started, re-run with --create-missing-secrets`,
      );
    } else if (spec.userProvided) problems.push(`${spec.file}: ${spec.purpose} is needed: --db-password-file FILE, or answer the prompt`);
    else writes.push({ spec, value: generateSecret() });
  }
  return { writes, problems };
}
