/**
 * Secrets: random, created once, never rewritten (a new DB password or
 * secret_key would lock Grafana out of its own data), never printed.
 */
import { randomBytes } from 'node:crypto';
import type { SecretSpec } from './topology.js';

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

/** The secrets that have no file yet; the others are kept byte for byte. */
export const missingSecrets = (specs: SecretSpec[], exists: (file: string) => boolean): SecretSpec[] =>
  specs.filter((s) => !exists(s.file));
