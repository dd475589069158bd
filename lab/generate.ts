/**
 * Writes a stack with the real generator CLI (bin/grafana-ha.js), the way a
 * user would, into a fresh temp folder (GGHA_LAB_GENERATOR picks another generator checkout). Stacks
 * default to PostgreSQL 18, the major the lab's real-program tests also run (lab/toolchain.sh); the
 * engine has a stand-in for each major the generator offers (lab/images/build.sh).
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withoutColour } from './shell.js';
import { REPO_ROOT } from './stack-lab.js';

export interface StackOptions {
  loadBalancer?: 'haproxy' | 'nginx';
  failoverProfile?: 'fast' | 'upstream';
  synchronousReplication?: boolean;
  grafanaReplicas?: number;
  patroniNodes?: number;
  etcdMembers?: number;
  postgresMajor?: number;
}

export function generateStack(o: StackOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'ggha-stack-'));
  const args = [
    // GGHA_LAB_GENERATOR: another checkout's bin/grafana-ha.js (e.g. to test a commit while the worktree is mid-edit).
    generatorBin(),
    '--defaults',
    '--load-balancer',
    o.loadBalancer ?? 'haproxy',
    '--failover-profile',
    o.failoverProfile ?? 'fast',
    '--synchronous-replication',
    String(o.synchronousReplication ?? true),
    '--grafana-replicas',
    String(o.grafanaReplicas ?? 2),
    '--patroni-nodes',
    String(o.patroniNodes ?? 3),
    '--etcd-members',
    String(o.etcdMembers ?? 3),
    '--postgres-major',
    String(o.postgresMajor ?? 18),
  ];
  execFileSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  return dir;
}

/** The generator CLI the lab runs (GGHA_LAB_GENERATOR: another checkout's bin/grafana-ha.js). */
export function generatorBin(): string {
  return process.env.GGHA_LAB_GENERATOR ?? join(REPO_ROOT, 'bin/grafana-ha.js');
}

/**
 * Writes a stack with other options (e.g. --db-mode external …) into a fresh temp folder. PostgreSQL
 * is the default major (18); an option for it would be refused
 * where it does not apply (external mode).
 */
export function generateStackWith(args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ggha-stack-'));
  execFileSync(process.execPath, [generatorBin(), '--defaults', ...args], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 60_000,
  });
  return dir;
}

/**
 * Re-runs the generator in an existing stack folder, like a user would (asynchronously: the
 * caller's load loops keep running), and returns everything it printed, colours removed.
 */
export function rerunGenerator(dir: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [generatorBin(), ...args], { cwd: dir, timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const out = withoutColour(`${stdout}${stderr}`);
      if (error) reject(new Error(`generator re-run failed: ${error.message}\n${out}`));
      else resolve(out);
    });
  });
}

/** The commands of the re-run plan ("apply it, from this folder, in this order:"), in order. */
export function planCommands(output: string): string[] {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.includes('apply it, from this folder, in this order:'));
  if (start < 0) return [];
  const commands: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s{4}((?:docker |\.\/|sleep )\S.*)$/.exec(line);
    if (!m) break;
    commands.push((m[1] ?? '').trim());
  }
  return commands;
}
