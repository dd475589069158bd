/**
 * Secrets: random, created once, never rewritten (a new DB password or
 * secret_key would lock Grafana out of its own data), never printed.
 */
import { randomBytes } from 'node:crypto';
import type { SecretSpec } from './topology.js';

/** Owner read/write only. */
export const SECRET_FILE_MODE = 0o600;

/** 256 random bits, URL-safe: valid unquoted in YAML, INI, URLs and SQL literals alike. */
export const generateSecret = (): string => randomBytes(32).toString('base64url');

/** The secrets that have no file yet; the others are kept byte for byte. */
export const missingSecrets = (specs: SecretSpec[], exists: (file: string) => boolean): SecretSpec[] =>
  specs.filter((s) => !exists(s.file));
