/**
 * Backup benchmark (npm run bench:backup): the default stack on the test engine (started here when it
 * is not running, stopped afterwards), its database grown to BENCH_DB_MB (default 1024) of filler
 * beside Grafana's stand-in table, then, with the stack's own scripts:
 *  - a full backup, then a differential one after 1 % of the filler's rows (the first ones) changed:
 *    their run times, and the sizes pgBackRest reports;
 *  - the total loss of every PostgreSQL node while a writer runs through Grafana for
 *    archive_timeout + 15 s: acknowledged writes missing after `scripts/restore.sh --yes` and how long
 *    before the loss the oldest of them was acknowledged (RPO), the restore's run time and the time
 *    from its start to the first write acknowledged through the DB router (RTO).
 * BENCH_RUNS (default 1) repeats the loss and restore. Every step is bounded; the lab cleans up on any exit.
 */
import { ARCHIVE_TIMEOUT_S } from '../generators/app/kinds/pgbackrest.js';
import { engineRunning, engineUnavailableReason, startEngine, stopEngine } from './engine.js';
import { totalLoss, type TotalLossResult } from './backups.js';
import { leaderName, pgQuery, waitClusterSettled } from './clients.js';
import { generateStack } from './generate.js';
import { withEngine } from './engine.js';
import { runShell } from './shell.js';
import { labUnavailableReason, StackLab } from './stack-lab.js';

const DB_MB = Number(process.env.BENCH_DB_MB ?? 1024);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);

const engineProblem = engineUnavailableReason();
const enginePid = !engineProblem && !engineRunning() ? startEngine() : undefined;
process.on('exit', () => enginePid !== undefined && stopEngine(enginePid));
const reason = labUnavailableReason();
if (reason) {
  console.error(`bench:backup cannot run: ${reason}`);
  process.exit(1);
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const lab = await StackLab.start(generateStack({ loadBalancer: 'haproxy' }), { removeStackDir: true });
try {
  await waitClusterSettled(lab, { sync: true });
  const script = async (command: string) => {
    const r = await runShell(command, lab.dir, withEngine(), 3_600_000);
    if (r.code !== 0) throw new Error(`${command} exited ${r.code}:\n${r.output}`);
    return r;
  };
  const leader = (await leaderName(lab))!;
  // About 1 MB per 7000 rows of this shape (two md5 strings and a number).
  const rows = DB_MB * 7000;
  // psql in the container: the lab's own client gives a query 5 s.
  const psql = async (sql: string) => {
    const r = await lab.exec(leader, ['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-d', 'grafana', '-c', sql], { timeoutMs: 1_800_000 });
    if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
  };
  const filled = Date.now();
  await psql(
    `CREATE TABLE bench_filler AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS a, md5((g * 13)::text) AS b FROM generate_series(1, ${rows}) g`,
  );
  // Settled before the full backup, as old data is: otherwise the first scan after it sets the hint
  // bits of every page, every file changes, and the differential backup is a second full one.
  await psql('CREATE INDEX ON bench_filler (id)');
  await psql('VACUUM (FREEZE, ANALYZE) bench_filler');
  const size = (await pgQuery<{ size: string }>(lab, leader, 'SELECT pg_size_pretty(pg_database_size(current_database())) AS size'))[0]
    ?.size;
  console.error(`bench:backup: grafana database ${size} after ${s(Date.now() - filled)} of filling`);

  const full = await script('./scripts/backup.sh full');
  // 1 % of the rows, together: a change spread over every page would rewrite every file of the table.
  await psql(`UPDATE bench_filler SET b = md5(b) WHERE id <= ${Math.ceil(rows / 100)}`);
  const diff = await script('./scripts/backup.sh diff');
  const info = (await script('./scripts/backup.sh info')).output;
  const sizes = [
    // Block incremental (bundles) prints no "backup set size".
    ...info.matchAll(/database size: (\S+), database backup size: (\S+)\n\s+repo1: (?:backup set size: \S+, )?backup size: (\S+)/g),
  ];
  console.error(info);

  const losses: TotalLossResult[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const r = await totalLoss(lab, { writeForMs: (ARCHIVE_TIMEOUT_S + 15) * 1000, restore: () => script('./scripts/restore.sh --yes') });
    console.error(
      `bench:backup run ${run}: ${r.missing.length} of ${r.acked} acknowledged writes missing, oldest ${s(r.oldestMissingAgeMs)} before the loss; restore ${s(r.restoreMs)}, writable after ${s(r.writableAfterMs)}`,
    );
    losses.push(r);
    await waitClusterSettled(lab, { sync: true, timeoutMs: 600_000 });
    await script('./scripts/backup.sh full');
  }

  console.log(
    `\nBackup benchmark on the real Docker Engine: the default stack, Grafana's database ${size} (${DB_MB} MB of filler asked).\n`,
  );
  console.log('| metric | figure |');
  console.log('| --- | --- |');
  console.log(`| full backup (scripts/backup.sh full) | ${s(full.ms)}; database ${sizes[0]?.[1] ?? '?'}, stored ${sizes[0]?.[3] ?? '?'} |`);
  console.log(
    `| differential backup after 1 % of rows changed | ${s(diff.ms)}; read ${sizes[1]?.[2] ?? '?'} of the database, stored ${sizes[1]?.[3] ?? '?'} |`,
  );
  for (const [i, r] of losses.entries()) {
    console.log(
      `| total loss ${i + 1}: acknowledged writes missing after the restore (RPO) | ${r.missing.length} of ${r.acked}; the oldest acknowledged ${s(r.oldestMissingAgeMs)} before the loss (bound: archive_timeout ${ARCHIVE_TIMEOUT_S} s + the push) |`,
    );
    console.log(`| total loss ${i + 1}: scripts/restore.sh --yes, run time | ${s(r.restoreMs)} (all nodes back) |`);
    console.log(
      `| total loss ${i + 1}: from the restore's start to a write acknowledged through the DB router (RTO) | ${s(r.writableAfterMs)} |`,
    );
  }
} finally {
  lab.destroy();
}
