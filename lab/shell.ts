/**
 * Running host commands from the lab. Every call is bounded in time, and a
 * failure carries the command and its stderr so a broken step is obvious.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws (the caller decides what a failure means). */
export function tryRun(argv: string[], timeoutMs = 30_000, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const [file = '', ...args] = argv;
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20, ...opts }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Runs a command and throws with its stderr if it fails. */
export async function run(argv: string[], timeoutMs = 30_000): Promise<string> {
  const r = await tryRun(argv, timeoutMs);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} → exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Synchronous variant for exit handlers, where nothing asynchronous runs any more. */
export function runSyncQuiet(argv: string[]): string {
  try {
    const [file = '', ...args] = argv;
    return execFileSync(file, args, { timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return '';
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/**
 * Runs one command line with /bin/sh, as a user would paste it (a README or re-run plan command), from
 * `cwd`; never throws. Output is stdout then stderr interleaved, colours removed; `at` is its start.
 */
export function runShell(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 300_000,
): Promise<{ code: number; output: string; ms: number; at: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output: withoutColour(output), ms: Date.now() - started, at: started });
    });
  });
}

/** Quotes one word for /bin/sh. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// eslint-disable-next-line no-control-regex -- ESC starts every ANSI colour code
const ANSI_COLOUR = /\x1b\[[0-9;]*m/g;
/** Output without the colour codes a program printed. */
export const withoutColour = (text: string) => text.replace(ANSI_COLOUR, '');
