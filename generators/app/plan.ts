/**
 * What a re-run means for a running stack: which changes it refuses (they
 * would break the cluster), which services come and go, and the exact commands
 * that apply the rest without downtime. Pure: compares two topologies.
 */
import type { Answers } from './questions.js';
import { sha256 } from './record.js';
import { recreate, replicaRestartCommands } from './commands.js';
import { ETCD_ADD_MEMBER_SCRIPT } from './render/paths.js';
import { composeObject } from './render/compose.js';
import { renderStack, type GeneratedFile } from './render/index.js';
import { serviceNames, type PatroniCluster, type Topology } from './topology.js';

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

/** The image sets PATRONICTL_CONFIG_FILE to the node's config: no -c needed. */
const patronictl = (db: PatroniCluster) => `docker compose exec ${db.patroni.nodes[0].name} patronictl`;

/** What switching database modes does to the data, for the refusal message. */
const MODE_SWITCH: Record<string, string> = {
  'single→patroni':
    'the Patroni cluster starts empty: dump the single server (pg_dump), re-run with --force, start only the database (`docker compose up -d --wait db-router`), restore the dump through the DB router, then start the rest (README.md has the commands).',
  'patroni→single': 'the single server starts empty: dump the cluster through the DB router, re-run with --force, and restore it.',
  default:
    "the new database starts empty (or is someone else's): move Grafana's database with pg_dump/pg_restore before you re-run with --force.",
};

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
  if (was.dbMode !== now.dbMode) {
    const switchNote = MODE_SWITCH[`${was.dbMode}→${now.dbMode}`] ?? MODE_SWITCH.default;
    out.push(`--db-mode ${was.dbMode} → ${now.dbMode}: the data does not move by itself; ${switchNote}`);
  }
  const [db, next] = [before.database, after.database];
  if (db.mode !== 'patroni' || next.mode !== 'patroni') return out;
  if (now.patroniNodes < was.patroniNodes) {
    const gone = db.patroni.nodes.slice(now.patroniNodes).map((n) => n.name);
    out.push(
      `--patroni-nodes ${was.patroniNodes} → ${now.patroniNodes}: remove ${gone.join(', ')} by hand first, never the leader blindly: ` +
        `check \`${patronictl(db)} list\`; if one of them is the leader, \`${patronictl(db)} switchover --candidate ${db.patroni.nodes[0].name} --force\`; ` +
        `then \`docker compose rm --stop --force ${gone.join(' ')}\`. Then re-run with --force.`,
    );
  }
  if (now.etcdMembers < was.etcdMembers) {
    const gone = db.etcd.members.slice(now.etcdMembers).map((m) => m.name);
    out.push(
      `--etcd-members ${was.etcdMembers} → ${now.etcdMembers}: remove ${gone.join(', ')} from the cluster by hand first, one at a time: ` +
        `\`docker compose exec ${db.etcd.members[0].name} etcdctl member list\`, \`docker compose exec ${db.etcd.members[0].name} etcdctl member remove <ID>\`, then \`docker compose rm --stop --force <member>\`. Then re-run with --force.`,
    );
  }
  return out;
}

/** bootstrap.dcs settings: written into the YAML, but a running cluster keeps its own copy in etcd. */
function dcsSettings(was: Answers, now: Answers, db: PatroniCluster): string[] {
  const settings: string[] = [];
  if (was.synchronousReplication !== now.synchronousReplication) settings.push(`-s synchronous_mode=${db.patroni.synchronous}`);
  if (was.failoverProfile !== now.failoverProfile) {
    const t = db.patroni.timing;
    settings.push(`-s ttl=${t.ttl}`, `-s loop_wait=${t.loopWait}`, `-s retry_timeout=${t.retryTimeout}`);
  }
  return settings;
}



interface Change {
  isNew: (service: string) => boolean;
  /** A kept service whose compose definition differs (image, environment, ports, …). */
  redefined: (service: string) => boolean;
  fileChanged: (path: string) => boolean;
}

function patroniCommands(was: Answers, after: Topology, db: PatroniCluster, change: Change, notes: string[]): string[] {
  const { isNew, redefined, fileChanged } = change;
  const commands: string[] = [];
  // 1. etcd first, one member at a time: new ones announced then started, changed ones recreated (quorum holds).
  for (const member of db.etcd.members) {
    if (isNew(member.name)) commands.push(`${ETCD_ADD_MEMBER_SCRIPT} ${member.name}`);
    else if (redefined(member.name)) commands.push(recreate(member.name));
  }

  // 2. New PostgreSQL nodes clone the current primary (pg_basebackup) on their first start.
  const newNodes = db.patroni.nodes.filter((n) => isNew(n.name)).map((n) => n.name);
  if (newNodes.length > 0) commands.push(`docker compose up -d --no-deps --build ${newNodes.join(' ')}`);
  const redefinedNodes = db.patroni.nodes.filter((n) => redefined(n.name)).map((n) => n.name);
  if (redefinedNodes.length > 0) {
    notes.push(
      `${redefinedNodes.join(', ')} must be recreated: one at a time, and the leader last, after \`${patronictl(db)} switchover --force\` (\`${patronictl(db)} list\` shows it).`,
    );
    commands.push(...redefinedNodes.map((node) => `docker compose up -d --no-deps --build --force-recreate --wait ${node}`));
  }
  const keptNodes = db.patroni.nodes.filter((n) => !isNew(n.name) && !redefined(n.name));
  if (keptNodes.some((n) => fileChanged(n.configFile))) commands.push(`${patronictl(db)} reload ${after.project} --force`);
  const dcs = dcsSettings(was, after.answers, db);
  if (dcs.length > 0) {
    commands.push(`${patronictl(db)} edit-config --force ${dcs.join(' ')}`);
    notes.push('Patroni keeps bootstrap.dcs settings in etcd after the first start: the edit-config command applies them.');
  }

  // 3. HAProxy re-reads its configuration on SIGUSR2 (master-worker mode); open connections stay.
  if (redefined(db.dbRouter.name)) commands.push(recreate(db.dbRouter.name));
  else if (fileChanged('db-router/haproxy.cfg')) commands.push(`docker compose kill -s USR2 ${db.dbRouter.name}`);
  return commands;
}

/** `changedFiles`: generated paths whose contents differ from what is on disk. */
export function planChange(before: Topology, after: Topology, changedFiles: string[]): ChangePlan {
  const was = serviceNames(before);
  const now = serviceNames(after);
  const added = now.filter((s) => !was.includes(s));
  const removed = was.filter((s) => !now.includes(s));
  const beforeServices = composeObject(before).services;
  const afterServices = composeObject(after).services;
  // Like Compose's own config hash, which decides what `up` recreates: depends_on does not count.
  const definition = (service: unknown) => JSON.stringify({ ...(service as object), depends_on: undefined });
  const change: Change = {
    isNew: (service) => added.includes(service),
    redefined: (service) => service in beforeServices && definition(beforeServices[service]) !== definition(afterServices[service]),
    fileChanged: (path) => changedFiles.includes(path),
  };
  const plan = { refusals: refusals(before, after), notes: [] as string[], added, removed, changedFiles, commands: [] as string[] };

  // A forced switch of database mode: the new database starts empty (see the refusal). No command here:
  // starting the stack would let Grafana create its tables in the empty database before the data is
  // restored, and the restore would then fail on them. The README's steps start the database alone first.
  if (before.database.mode !== after.database.mode) {
    plan.notes.push(
      `The database mode changed (${before.answers.dbMode} → ${after.answers.dbMode}): do not start the whole stack yet. Start the database first, restore Grafana's data, then start everything, as README.md shows ("From \`single\` to \`patroni\`" for that move).`,
    );
    return plan;
  }

  // 1-3. The database tier.
  const db = after.database;
  if (db.mode === 'patroni') plan.commands.push(...patroniCommands(before.answers, after, db, change, plan.notes));
  if (db.mode === 'single' && change.redefined(db.server.name)) {
    plan.notes.push(`Recreating ${db.server.name} interrupts Grafana's database for a few seconds (no database HA in this mode).`);
    plan.commands.push(recreate(db.server.name));
  }

  // 4-5. Grafana and the load balancer. New replicas start (and are healthy) first; then the load
  //      balancer takes its new configuration (it uses the new replicas, stops using removed ones,
  //      which still run until step 6, and gains what the rotation script needs); then the old
  //      replicas are recreated one by one when their definition or grafana.ini (e.g. new alerting
  //      peers) changed.
  const newReplicas = after.grafana.replicas.filter((r) => change.isNew(r.name)).map((r) => r.name);
  if (newReplicas.length > 0) plan.commands.push(`docker compose up -d --no-deps --wait ${newReplicas.join(' ')}`);
  // Each one leaves the load balancer's rotation first, so that no request meets it while it stops
  // (nginx does not replay a request it has sent: the replica may have applied it), and comes back
  // once healthy. A lone replica has no other to take its requests: it is simply recreated.
  const lb = after.loadBalancer;
  const rotates = after.grafana.replicas.length > 1;
  const recreates = after.grafana.replicas
    .filter((r) => !change.isNew(r.name) && (change.redefined(r.name) || change.fileChanged('grafana/grafana.ini')))
    .flatMap((r) => (rotates ? replicaRestartCommands(r.name) : [recreate(r.name)]));
  const lbCommands: string[] = [];
  if (change.redefined(lb.name)) lbCommands.push(recreate(lb.name));
  else if (change.fileChanged('lb/haproxy.cfg')) lbCommands.push(`docker compose kill -s USR2 ${lb.name}`);
  else if (change.fileChanged('lb/nginx.conf')) lbCommands.push(`docker compose exec ${lb.name} nginx -s reload`);
  plan.commands.push(...lbCommands, ...recreates);

  // 6. Last, the containers of services no longer in compose.yaml (`docker compose rm` no longer knows them).
  if (removed.length > 0) plan.commands.push('docker compose up -d --no-recreate --remove-orphans');

  plan.notes.push('Run only these commands: a plain `docker compose up -d` would recreate every changed service at once.');
  return plan;
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

export interface Rerun {
  plan: ChangePlan;
  /** Files the previous run wrote, unedited, that this run no longer generates: removed. */
  stale: string[];
  /** Changed files the user edited since: replaced only with --force, a .yo-resolve entry or a yes at the prompt. */
  conflicts: string[];
}

/**
 * Compares a re-run with what the previous run wrote and what is on disk now. `recorded`: the hash of
 * each file the last complete run wrote (its record); a stack generated before records existed is
 * compared with the previous answers rendered again, which a newer generator's templates can tell
 * apart from an edit only by asking.
 */
export function planRerun(
  previous: Topology,
  next: Topology,
  files: GeneratedFile[],
  onDisk: (path: string) => string | undefined,
  recorded?: Record<string, string>,
): Rerun {
  const previousFiles = recorded
    ? new Map(Object.entries(recorded))
    : new Map(renderStack(previous).map((f) => [f.path, sha256(f.contents)]));
  const unedited = (path: string) => {
    const contents = onDisk(path);
    return previousFiles.has(path) && contents !== undefined && sha256(contents) === previousFiles.get(path);
  };
  const generated = new Set(files.map((f) => f.path));
  const leftOver = [...previousFiles.keys()].filter((path) => !generated.has(path) && onDisk(path) !== undefined);
  const stale = leftOver.filter(unedited);
  // What the change is, for the plan: against the record, so that a run stopped half-way (or a file
  // kept at the question) plans the same change again; without one, against the disk.
  const changed = files.filter((f) => (recorded ? recorded[f.path] !== sha256(f.contents) : onDisk(f.path) !== f.contents)).map((f) => f.path);
  const plan = planChange(previous, next, [...changed, ...stale]);
  for (const path of leftOver.filter((p) => !unedited(p))) {
    plan.notes.push(`${path} is no longer generated but you edited it, so it stays: remove it when you no longer need it.`);
  }
  // What must be written: whatever differs from the disk; a question only where the user edited it.
  const toWrite = files.filter((f) => onDisk(f.path) !== f.contents).map((f) => f.path);
  return { plan, stale, conflicts: toWrite.filter((p) => onDisk(p) !== undefined && !unedited(p)) };
}
