/**
 * What a re-run means for a running stack: which changes it refuses (they
 * would break the cluster), which services come and go, and the exact commands
 * that apply the rest without downtime. Pure: compares two topologies.
 */
import type { Answers } from './questions.js';
import { ETCD_ADD_MEMBER_SCRIPT } from './render/paths.js';
import { serviceNames, type Topology } from './topology.js';

export interface ChangePlan {
  /** Changes that cannot be applied in place; the run stops unless --force. */
  refusals: string[];
  /** Things the user must know that are not errors. */
  notes: string[];
  added: string[];
  removed: string[];
  /** Generated files whose contents change (or that go away). */
  changedFiles: string[];
  /** Shell commands, in order, run from the stack folder. */
  commands: string[];
}

const PATRONICTL = (t: Topology) => `docker compose exec ${t.patroni.nodes[0].name} patronictl -c /etc/patroni/patroni.yml`;

/** Answers a running cluster cannot take by regenerating files. */
function refusals(before: Topology, after: Topology): string[] {
  const was = before.answers;
  const now = after.answers;
  const out: string[] = [];
  if (was.projectName !== now.projectName) {
    out.push(
      `--project-name ${was.projectName} → ${now.projectName}: it is the Compose project and the Patroni scope; a new one starts a second, empty cluster beside the old volumes. Keep the name, or dump the database and restore it into a new stack.`,
    );
  }
  if (was.postgresMajor !== now.postgresMajor) {
    out.push(
      `--postgres-major ${was.postgresMajor} → ${now.postgresMajor}: PostgreSQL cannot start on a data directory of another major version. Upgrade with pg_upgrade or dump/restore into a new stack.`,
    );
  }
  if (now.patroniNodes < was.patroniNodes) {
    const gone = before.patroni.nodes.slice(now.patroniNodes).map((n) => n.name);
    out.push(
      `--patroni-nodes ${was.patroniNodes} → ${now.patroniNodes}: remove ${gone.join(', ')} by hand first, never the leader blindly: ` +
        `check \`${PATRONICTL(before)} list\`; if one of them is the leader, \`${PATRONICTL(before)} switchover --candidate ${before.patroni.nodes[0].name} --force\`; ` +
        `then \`docker compose rm --stop --force ${gone.join(' ')}\`. Then re-run with --force.`,
    );
  }
  if (now.etcdMembers < was.etcdMembers) {
    const gone = before.etcd.members.slice(now.etcdMembers).map((m) => m.name);
    out.push(
      `--etcd-members ${was.etcdMembers} → ${now.etcdMembers}: remove ${gone.join(', ')} from the cluster by hand first, one at a time: ` +
        `\`docker compose exec ${before.etcd.members[0].name} etcdctl member list\`, \`etcdctl member remove <ID>\`, then \`docker compose rm --stop --force <member>\`. Then re-run with --force.`,
    );
  }
  return out;
}

/** bootstrap.dcs settings: written into the YAML, but a running cluster keeps its own copy in etcd. */
function dcsChanges(before: Topology, after: Topology): string[] {
  const settings: string[] = [];
  const changed = <K extends keyof Answers>(k: K) => before.answers[k] !== after.answers[k];
  if (changed('synchronousReplication')) settings.push(`-s synchronous_mode=${after.patroni.synchronous}`);
  if (changed('failoverProfile')) {
    const t = after.patroni.timing;
    settings.push(`-s ttl=${t.ttl}`, `-s loop_wait=${t.loopWait}`, `-s retry_timeout=${t.retryTimeout}`);
  }
  return settings;
}

export function firstStartCommands(): string[] {
  return ['docker compose build', 'docker compose up -d', 'docker compose ps'];
}

/** `changedFiles`: generated paths whose contents differ from what is on disk. */
export function planChange(before: Topology, after: Topology, changedFiles: string[]): ChangePlan {
  const was = serviceNames(before);
  const now = serviceNames(after);
  const added = now.filter((s) => !was.includes(s));
  const removed = was.filter((s) => !now.includes(s));
  const changed = (path: string) => changedFiles.includes(path);
  const isNew = (name: string) => added.includes(name);
  const commands: string[] = [];
  const notes: string[] = [];

  // 1. etcd first, one member at a time: announced to the cluster, then started.
  for (const member of after.etcd.members.filter((m) => isNew(m.name))) commands.push(`${ETCD_ADD_MEMBER_SCRIPT} ${member.name}`);

  // 2. New PostgreSQL nodes clone the current primary (pg_basebackup) on their first start.
  const newNodes = after.patroni.nodes.filter((n) => isNew(n.name)).map((n) => n.name);
  if (newNodes.length > 0) commands.push(`docker compose up -d --build ${newNodes.join(' ')}`);
  const keptNodes = after.patroni.nodes.filter((n) => !isNew(n.name));
  if (keptNodes.some((n) => changed(n.configFile))) commands.push(`${PATRONICTL(after)} reload ${after.project} --force`);
  const dcs = dcsChanges(before, after);
  if (dcs.length > 0) {
    commands.push(`${PATRONICTL(after)} edit-config --force ${dcs.join(' ')}`);
    notes.push('Patroni keeps bootstrap.dcs settings in etcd after the first start: the edit-config command applies them.');
  }

  // 3. HAProxy re-reads its configuration on SIGUSR2 (master-worker mode) without dropping connections.
  if (changed('db-router/haproxy.cfg')) commands.push(`docker compose kill -s USR2 ${after.dbRouter.name}`);

  // 4. Grafana: start new replicas, then restart the others one by one for the new alerting peers.
  const newReplicas = after.grafana.replicas.filter((r) => isNew(r.name)).map((r) => r.name);
  if (newReplicas.length > 0) commands.push(`docker compose up -d ${newReplicas.join(' ')}`);
  if (changed('grafana/grafana.ini')) {
    for (const replica of after.grafana.replicas.filter((r) => !isNew(r.name))) {
      commands.push(`docker compose restart ${replica.name} && docker compose up -d --wait ${replica.name}`);
    }
  }

  // 5. The load balancer learns the new set of replicas before any old one goes away.
  const lb = after.loadBalancer;
  if (changed('lb/haproxy.cfg')) commands.push(`docker compose kill -s USR2 ${lb.name}`);
  if (changed('lb/nginx.conf')) commands.push(`docker compose exec ${lb.name} nginx -s reload`);
  if (lb.kind !== before.loadBalancer.kind) commands.push(`docker compose up -d --force-recreate ${lb.name}`);

  // 6. Last, services no longer in compose.yaml.
  if (removed.length > 0) commands.push(`docker compose rm --stop --force ${removed.join(' ')}`);

  return { refusals: refusals(before, after), notes, added, removed, changedFiles, commands };
}

/** The plan as the generator prints it before writing. */
export function describePlan(plan: ChangePlan): string {
  const list = (items: string[]) => (items.length > 0 ? items.join(', ') : 'none');
  const lines = ['Changes for the running stack:', `  services added: ${list(plan.added)}`, `  services removed: ${list(plan.removed)}`,
    `  files changed: ${list(plan.changedFiles)}`,
  ];
  for (const refusal of plan.refusals) lines.push(`  forced (--force): ${refusal}`);
  for (const note of plan.notes) lines.push(`  note: ${note}`);
  if (plan.commands.length > 0) lines.push('  apply it, from this folder, in this order:', ...plan.commands.map((c) => `    ${c}`));
  else lines.push('  nothing to apply to the running stack.');
  return lines.join('\n');
}
