/**
 * The test engine from Node: lab/engine.sh does the work (one implementation,
 * shared with `npm run toolchain`), this module only calls it and hands out
 * the environment every `docker` command of the tests runs with.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (lab/ or dist/lab/ lives below it). */
export const REPO_ROOT = resolve(here, existsSync(join(here, '../package.json')) ? '..' : '../..');
const ENGINE_SH = join(REPO_ROOT, 'lab/engine.sh');

/** DOCKER_HOST, DOCKER_CONFIG and PATH for the test engine, parsed from `engine.sh env`. */
export function engineEnv(): Record<string, string> {
  const out = execFileSync('bash', [ENGINE_SH, 'env'], { encoding: 'utf8' });
  const env: Record<string, string> = {};
  for (const [, name = '', value = ''] of out.matchAll(/^export (\w+)=(.*)$/gm))
    env[name] = value.replace('$PATH', process.env.PATH ?? '/usr/bin:/bin');
  return env;
}

/** The caller's environment with the test engine's variables on top (for `docker …` and shell commands). */
export function withEngine(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, ...engineEnv() };
}

/** Why the engine cannot run here (not root, toolchain not installed), or null. */
export function engineUnavailableReason(): string | null {
  const r = spawnSync('bash', [ENGINE_SH, 'check'], { encoding: 'utf8' });
  return r.status === 0 ? null : r.stdout.trim() || r.stderr.trim() || 'lab/engine.sh check failed';
}

/** True when the test engine answers on its socket. */
export function engineRunning(): boolean {
  return spawnSync('bash', [ENGINE_SH, 'running'], { stdio: 'ignore', timeout: 15_000 }).status === 0;
}

/** Starts the engine (no-op when it already answers); returns its PID. */
export function startEngine(): number {
  return Number(execFileSync('bash', [ENGINE_SH, 'start'], { encoding: 'utf8', timeout: 60_000 }).trim());
}

/** Stops the engine `pid` (the one the caller started), if it is still the running one. */
export function stopEngine(pid: number): void {
  execFileSync('bash', [ENGINE_SH, 'stop', String(pid)], { stdio: 'inherit', timeout: 60_000 });
}
