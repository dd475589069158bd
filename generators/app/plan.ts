/**
 * What a re-run means for a running stack: which changes it refuses (they
 * would break the cluster), which services come and go, and the exact commands
 * that apply the rest without downtime. Pure: compares two topologies.
 */
import { recreate, replicaRestartCommands } from './commands.js';
import type { ServiceChange } from './kinds/database-mode.js';
import { DATABASE_MODES, DEPLOY_TARGETS, LOAD_BALANCERS, majorUpgradeCommand, modeOf } from './kinds/index.js';
import { sha256 } from './record.js';
import { composeServices, renderStack, stackParts, type GeneratedFile } from './render/index.js';
import { QUESTIONS } from './questions.js';
import { STACK_FILES } from './stack-files.js';
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

/** What switching database modes does to the data, when the mode switched into does not say. */
const MODE_SWITCH_DEFAULT =
  "the new database starts empty (or is someone else's): move Grafana's database with pg_dump/pg_restore before you re-run with --force.";

/** A new major is applied alone: its script dumps and restores the cluster, and plans nothing else. */
function majorUpgradeRefusals(before: Topology, after: Topology): string[] {
  const was = before.answers;
  const now = after.answers;
  const change = `--postgres-major ${was.postgresMajor} → ${now.postgresMajor}`;
  if (now.postgresMajor < was.postgresMajor) {
    return [
      `${change}: a downgrade. A dump of a newer major may not restore into an older one. To go back after an upgrade, generate a stack of major ${now.postgresMajor} in another folder with the same secrets/ copied in, start its database alone, and pg_restore the dump the upgrade kept (${STACK_FILES.dumps.path}/) as Grafana's role.`,
    ];
  }
  if (!majorUpgradeCommand(after)) {
    return [
      `${change}: PostgreSQL cannot start on a data directory of another major version, and this stack has no upgrade script. Dump the database (pg_dump), generate a new stack in another folder with the same secrets/ copied in, start its database alone, restore the dump, then start the rest.`,
    ];
  }
  const others = QUESTIONS.filter((q) => q.name !== 'postgresMajor' && JSON.stringify(was[q.name]) !== JSON.stringify(now[q.name]));
  return others.length > 0
    ? [
        `${change} is applied on its own (the upgrade dumps and restores the cluster): re-run with only --postgres-major first, then again for ${others.map((q) => `--${q.option}`).join(', ')}.`,
      ]
    : [];
}

/** Answers a running stack cannot take by regenerating files. */
function refusals(before: Topology, after: Topology): string[] {
  const was = before.answers;
  const now = after.answers;
  const out: string[] = [];
  if (was.projectName !== now.projectName) {
    out.push(
      `--project-name ${was.projectName} → ${now.projectName}: it is the Compose project and the Patroni scope; a new one starts a second, empty cluster beside the old volumes. Keep the name, or dump the database and restore it into a new stack.`,
    );
  }
  if (was.deployTarget !== now.deployTarget) {
    out.push(
      `--deploy-target ${was.deployTarget} → ${now.deployTarget}: the volumes, and the data in them, stay on the engine that made them. Dump the database (pg_dump through the DB router), generate a new ${now.deployTarget} stack in another folder with the same secrets/ copied in, start its database alone, restore the dump, then start the rest.`,
    );
  } else {
    out.push(...(DEPLOY_TARGETS[now.deployTarget].refusals?.(was, now) ?? []));
  }
  if (was.postgresMajor !== now.postgresMajor) out.push(...majorUpgradeRefusals(before, after));
  if (was.dbMode !== now.dbMode) {
    const switchNote = DATABASE_MODES[now.dbMode].arrivingFrom[was.dbMode] ?? MODE_SWITCH_DEFAULT;
    out.push(`--db-mode ${was.dbMode} → ${now.dbMode}: the data does not move by itself; ${switchNote}`);
    return out;
  }
  return [...out, ...modeOf(before.database).refusals(was, now, before.database, DEPLOY_TARGETS[was.deployTarget].handSteps(before))];
}

/** `changedFiles`: generated paths whose contents differ from what is on disk. */
export function planChange(before: Topology, after: Topology, changedFiles: string[]): ChangePlan {
  const was = serviceNames(before);
  const now = serviceNames(after);
  const added = now.filter((s) => !was.includes(s));
  const removed = was.filter((s) => !now.includes(s));
  const beforeServices = composeServices(before);
  const afterServices = composeServices(after);
  // Like Compose's own config hash, which decides what `up` recreates: depends_on does not count.
  const definition = (service: unknown) => JSON.stringify({ ...(service as object), depends_on: undefined });
  const change: ServiceChange = {
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

  // A new major: the upgrade script does the whole change (the refusals keep it alone).
  const upgrade = majorUpgradeCommand(after);
  if (before.answers.postgresMajor !== after.answers.postgresMajor && upgrade) {
    plan.notes.push(
      `PostgreSQL ${before.answers.postgresMajor} → ${after.answers.postgresMajor}: Grafana is down while the upgrade script dumps the database, starts the nodes again empty on the new image and restores the dump. Until it has run, do not start the database nodes: PostgreSQL ${after.answers.postgresMajor} cannot open their data.`,
    );
    plan.commands.push(upgrade);
    return plan;
  }

  const target = DEPLOY_TARGETS[after.answers.deployTarget];
  if (target.planRerun) {
    // The target plans its own steps, from a manager: a step that must run inside the cluster
    // (announcing a new etcd member, say) is out of its reach, and refused with the step named.
    const inCluster = modeOf(after.database).inClusterSteps(before.answers, after, after.database, change);
    if (inCluster.length > 0) {
      plan.refusals.push(
        `this change needs commands run inside the running cluster, which a ${after.answers.deployTarget} re-run does not plan: ${inCluster.join('; ')}. Run them by hand (\`docker exec\` into a member on its host), then re-run with --force.`,
      );
    }
    plan.commands.push(...target.planRerun({ t: before, files: stackParts(before) }, { t: after, files: stackParts(after) }, plan.notes));
    return plan;
  }

  // 1-3. The database tier, as its mode applies a change.
  plan.commands.push(...modeOf(after.database).planCommands(before.answers, after, after.database, change, plan.notes));

  // 4-5. Grafana and the load balancer. New replicas start (and are healthy) first; then the load
  //      balancer takes its new configuration (it uses the new replicas, stops using removed ones,
  //      which still run until step 6, and gains what the rotation script needs); then the old
  //      replicas are recreated one by one when their definition or grafana.ini (e.g. new alerting
  //      peers) changed.
  const newReplicas = after.grafana.replicas.filter((r) => change.isNew(r.name)).map((r) => r.name);
  // Within a major version Grafana's migrations keep the schema usable by the previous release, so
  // replicas roll. Across one they need not: the old version never runs beside the new one's schema.
  const majorUpgrade = grafanaMajor(before.answers.grafanaVersion) !== grafanaMajor(after.answers.grafanaVersion);
  if (newReplicas.length > 0 && !majorUpgrade) plan.commands.push(`docker compose up -d --no-deps --wait ${newReplicas.join(' ')}`);
  // Each one leaves the load balancer's rotation first, so that no request meets it while it stops
  // (nginx does not replay a request it has sent: the replica may have applied it), and comes back
  // once healthy. A lone replica has no other to take its requests: it is simply recreated.
  const lb = after.loadBalancer;
  const rotates = after.grafana.replicas.length > 1;
  const kept = after.grafana.replicas
    .filter((r) => !change.isNew(r.name) && (change.redefined(r.name) || change.fileChanged(STACK_FILES.grafanaIni.path)))
    .map((r) => r.name);
  let recreates = kept.flatMap((r) => (rotates ? replicaRestartCommands(r) : [recreate(r)]));
  if (majorUpgrade) {
    const restorePoint = modeOf(after.database).restorePointCommand?.(after.database);
    plan.notes.push(
      `Grafana ${before.answers.grafanaVersion} → ${after.answers.grafanaVersion} is a new major version: its migrations may change tables the old one still reads, so every old replica stops before the first new one starts and migrates (under the migration lock). Grafana is down until that replica is healthy.` +
        (restorePoint ? ` \`${restorePoint}\` first takes a backup to return to.` : ' Back up its database first.'),
    );
    const stopOld = kept.length > 0 ? [`docker compose stop ${kept.join(' ')}`] : [];
    recreates = [
      ...(restorePoint ? [restorePoint] : []),
      ...stopOld,
      // One first, alone: it runs the migrations; then the others.
      ...[...kept, ...newReplicas].map((r) => `docker compose up -d --no-deps --wait ${r}`),
    ];
  }
  const lbCommands: string[] = [];
  const lbKind = LOAD_BALANCERS[lb.kind];
  if (change.redefined(lb.name)) lbCommands.push(recreate(lb.name));
  else if (change.fileChanged(lbKind.config.path)) lbCommands.push(lbKind.reloadCommand(lb.name));
  plan.commands.push(...lbCommands, ...recreates);

  // 6. Last, the containers of services no longer in compose.yaml (`docker compose rm` no longer knows them).
  if (removed.length > 0) plan.commands.push('docker compose up -d --no-recreate --remove-orphans');

  plan.notes.push('Run only these commands: a plain `docker compose up -d` would recreate every changed service at once.');
  return plan;
}

/** `13` of `13.2.4`. */
const grafanaMajor = (version: string) => version.split('.')[0];

/** The plan as the generator prints it before writing. */
export function describePlan(plan: ChangePlan): string {
  const list = (items: string[]) => (items.length > 0 ? items.join(', ') : 'none');
  const lines = [
    'Changes for the running stack:',
    `  services added: ${list(plan.added)}`,
    `  services removed: ${list(plan.removed)}`,
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
  const changed = files
    .filter((f) => (recorded ? recorded[f.path] !== sha256(f.contents) : onDisk(f.path) !== f.contents))
    .map((f) => f.path);
  const plan = planChange(previous, next, [...changed, ...stale]);
  for (const path of leftOver.filter((p) => !unedited(p))) {
    plan.notes.push(`${path} is no longer generated but you edited it, so it stays: remove it when you no longer need it.`);
  }
  // What must be written: whatever differs from the disk; a question only where the user edited it.
  const toWrite = files.filter((f) => onDisk(f.path) !== f.contents).map((f) => f.path);
  return { plan, stale, conflicts: toWrite.filter((p) => onDisk(p) !== undefined && !unedited(p)) };
}
