/**
 * What a stack folder holds for the generator: the answers of the last run (.yo-rc.json), the record of
 * the last complete generation, and whether a folder is ours at all. Read and checked here; written
 * only by the commit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { ConfigError, validateAnswers, type ValidatedAnswers } from './config.js';
import { parseRecord, RECORD_FILE, type GenerationRecord } from './record.js';

export const YO_RC = '.yo-rc.json';

export const readIfExists = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

/** The answers of the previous run; a hand-edited `.yo-rc.json` is validated like any input. */
export function validateStored(stored: Record<string, unknown>, file = YO_RC): ValidatedAnswers {
  try {
    return validateAnswers(stored, { stored: true });
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(error.problems.map((p) => `${file}: ${p}`));
    throw error;
  }
}

/** etcdFoundingMembers and etcdDataDir describe the cluster's past: a hand edit cannot change it. */
export function refuseEditedHistory(stored: ValidatedAnswers, recorded: ValidatedAnswers) {
  if (stored.answers.dbMode !== 'patroni' || recorded.answers.dbMode !== 'patroni') return;
  const problems = (Object.keys(recorded.history) as (keyof ValidatedAnswers['history'])[])
    .filter((field) => stored.history[field] !== recorded.history[field])
    .map(
      (field) =>
        `.yo-rc.json: ${field} ${JSON.stringify(stored.history[field])} is not what this stack has (${JSON.stringify(recorded.history[field])}, in ${RECORD_FILE}): it records the cluster's past, which no answer changes. Put it back.`,
    );
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The `name:` of a compose.yaml, if it parses and has one. */
export function composeProjectOnDisk(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const name = (load(text) as { name?: unknown } | null)?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** The record of the last complete generation, if the stack has one; a damaged one is refused. */
export function readRecord(text: string | undefined): GenerationRecord | undefined {
  if (text === undefined) return undefined;
  const parsed = parseRecord(text);
  if ('problem' in parsed) throw new ConfigError([parsed.problem], 'The record of the last generation cannot be trusted');
  return parsed.record;
}

/** The generator's own version, recorded with each generation (this file runs from generators/ or dist/generators/). */
export const GENERATOR_VERSION = ['../../package.json', '../../../package.json']
  .map((path) => new URL(path, import.meta.url))
  .filter((url) => existsSync(url))
  .map((url) => JSON.parse(readFileSync(url, 'utf8')) as { name: string; version: string })
  .find((pkg) => pkg.name === 'generator-grafana-ha')!.version;

/**
 * Names a stack of ours always has, or that Compose would read: a first run into a folder holding
 * any of them (and no .yo-rc.json) is refused before a question is asked.
 */
export const STACK_NAMES = [
  'compose.yaml',
  'compose.yml',
  'docker-compose.yml',
  'docker-compose.yaml',
  'stack.yaml',
  'README.md',
  'grafana',
  'lb',
  'secrets',
  'scripts',
];

/** .yo-rc.json with this generator's answers, other generators' entries kept. */
export function yoRcText(existing: string | undefined, key: string, stored: Record<string, unknown>): string {
  let all: Record<string, unknown> = {};
  try {
    all = existing ? (JSON.parse(existing) as Record<string, unknown>) : {};
  } catch {
    /* validated before: an unreadable one was refused */
  }
  return `${JSON.stringify({ ...all, [key]: stored }, null, 2)}\n`;
}
