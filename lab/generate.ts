/**
 * Writes a stack with the real generator CLI (bin/grafana-ha.js), the way a
 * user would, into a fresh temp folder (GGHA_LAB_GENERATOR picks another generator checkout). The lab's toolchain ships PostgreSQL 18
 * only (Debian forky has no postgresql-17), so stacks default to major 18 here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    process.env.GGHA_LAB_GENERATOR ?? join(REPO_ROOT, 'bin/grafana-ha.js'),
    '--defaults',
    '--load-balancer', o.loadBalancer ?? 'haproxy',
    '--failover-profile', o.failoverProfile ?? 'fast',
    '--synchronous-replication', String(o.synchronousReplication ?? true),
    '--grafana-replicas', String(o.grafanaReplicas ?? 2),
    '--patroni-nodes', String(o.patroniNodes ?? 3),
    '--etcd-members', String(o.etcdMembers ?? 3),
    '--postgres-major', String(o.postgresMajor ?? 18),
  ];
  execFileSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  return dir;
}
