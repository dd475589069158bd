/**
 * Data safety on the real engine: backups by pgBackRest in the generated Patroni image, and a new
 * image rolled into the nodes, with the stack's own scripts (scripts/backup.sh, restore.sh,
 * rolling-restart.sh) run as the README shows them. A total loss of every PostgreSQL volume is
 * restored with no acknowledged write missing beyond the archive_timeout bound, a point-in-time
 * recovery brings back exactly the rows committed before its target, and a rolling restart loses no
 * acknowledged write. Figures are printed, not asserted (npm run bench:backup measures backups on a
 * stated database size).
 * Needs root and the engine; skipped loudly otherwise.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ackedIds,
  duplicateWrites,
  httpRequest,
  leaderName,
  outageAround,
  pgQuery,
  startLoop,
  waitClusterSettled,
} from '../../lab/clients.js';
import { ARCHIVE_TIMEOUT_S } from '../../generators/app/kinds/pgbackrest.js';
import { missingOnPrimary } from '../../lab/scenarios.js';
import { withEngine } from '../../lab/engine.js';
import { generateStack, planCommands, rerunGenerator } from '../../lab/generate.js';
import { runShell, shq, sleep, waitFor } from '../../lab/shell.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';
import { storedIds, totalLoss, writeThroughLb } from '../../lab/backups.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`\n!!! BACKUP TESTS SKIPPED: ${unavailable}\n`);
const describeLab = unavailable ? describe.skip : describe;
const log = (l: string) => process.env.GGHA_LAB_VERBOSE && console.log(l);
jest.setTimeout(900_000);

describeLab('backups and restore (pgBackRest, repository in a volume)', () => {
  let lab: StackLab;
  const sh = async (command: string) => {
    const r = await runShell(command, lab.dir, withEngine(), 900_000);
    log(`$ ${command} → ${r.code} (${r.ms} ms)\n${r.output}`);
    return r;
  };
  const ok = async (command: string) => {
    const r = await sh(command);
    expect({ command, code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ command, code: 0, output: '' });
    return r;
  };

  // On the previous major, so that the first test upgrades it; the others run on the new one.
  // What a plain `docker compose up -d` would recreate now: nothing after the scripts, or a container
  // carries another config hash (Compose 2.26–2.29 gives one to what `up --no-deps` started).
  const recreatedByPlainUp = async () => (await ok('docker compose up -d --dry-run')).output.match(/Container \S+ +Recreate\b/g) ?? [];

  beforeAll(async () => {
    lab = await StackLab.start(generateStack({ loadBalancer: 'haproxy', postgresMajor: 17 }), { log, removeStackDir: true });
    await waitClusterSettled(lab, { sync: true });
  }, 900_000);
  afterAll(() => lab?.destroy());

  test('PostgreSQL 17 → 18: the re-run plans the upgrade script alone; every acknowledged write comes back on 18, and the repository follows', async () => {
    const serverVersion = async () =>
      Number(
        (await pgQuery<{ server_version_num: string }>(lab, (await leaderName(lab))!, 'SHOW server_version_num'))[0]?.server_version_num,
      );
    await writeThroughLb(lab, 5);
    await ok('./scripts/backup.sh full');
    expect(Math.floor((await serverVersion()) / 10000)).toBe(17);
    const commands = planCommands(await rerunGenerator(lab.dir, ['--defaults', '--postgres-major', '18']));
    expect(commands).toEqual(['./scripts/upgrade-postgres-major.sh --yes']);
    lab.refresh();
    lab.checkImagesPresent();
    const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 50, maxMs: 600_000 });
    await sleep(3_000);
    const started = Date.now();
    const upgrade = await ok(commands[0]!);
    await writeThroughLb(lab, 1);
    await sleep(2_000);
    const writes = await writer.stop();
    const acked = ackedIds(writes);
    const downtime = outageAround(writes, started);
    console.log(
      `upgrades: PostgreSQL 17 → 18 by ${commands[0]}: ${(upgrade.ms / 1000).toFixed(1)} s; Grafana's longest write outage ${(downtime / 1000).toFixed(1)} s; ` +
        `${acked.length} writes acknowledged, ${writes.events.length - acked.length} failed (Grafana is stopped during the upgrade)`,
    );
    expect(Math.floor((await serverVersion()) / 10000)).toBe(18);
    expect(acked.length).toBeGreaterThan(50);
    expect(await missingOnPrimary(lab, acked)).toEqual([]);
    expect(await duplicateWrites(lab)).toEqual([]);
    expect(await waitClusterSettled(lab, { sync: true, timeoutMs: 300_000 })).toHaveLength(3);
    // The dump stays for the way back; the stanza moved to the new cluster, which archives and has a backup.
    expect(upgrade.output).toMatch(/dumps\/grafana-pg17-\d{8}T\d{6}Z\.dump/);
    await ok('./scripts/backup.sh check');
    expect((await ok('./scripts/backup.sh info')).output).toMatch(/wal archive min\/max \(18\)/);
    expect(await recreatedByPlainUp()).toEqual([]);
  });

  test('a full backup runs on the primary, the archive follows a switchover, and the repository needs the key', async () => {
    const before = await writeThroughLb(lab, 5);
    const backup = await ok('./scripts/backup.sh full');
    console.log(`backups: full backup of the new stack took ${(backup.ms / 1000).toFixed(1)} s`);
    // The archive continues on the new primary: check (a WAL switch, waited for) passes after a switchover.
    const leader = await leaderName(lab);
    await waitClusterSettled(lab, { sync: true });
    await ok(`docker compose exec -T ${leader} patronictl switchover --force`);
    await waitFor('a new leader', async () => ((await leaderName(lab).catch(() => leader)) !== leader ? true : undefined), 60_000, 500);
    await writeThroughLb(lab, 5);
    await ok('./scripts/backup.sh check');
    const info = (await ok('./scripts/backup.sh info')).output;
    expect(info).toMatch(/status: ok/);
    expect(info).toMatch(/cipher: aes-256-cbc/);
    expect(info).toMatch(/full backup: /);
    // Without the key (the package's binary, not the wrapper that loads it) the repository cannot be read.
    const keyless = await lab.exec(leader!, ['/usr/bin/pgbackrest', `--stanza=${lab.project}`, 'info']);
    expect(keyless.code).not.toBe(0);
    expect((await storedIds(lab)).has(before[0]!)).toBe(true);
  });

  test(`every PostgreSQL volume lost: restore.sh brings the cluster back; no acknowledged write older than ${ARCHIVE_TIMEOUT_S} s is missing`, async () => {
    const result = await totalLoss(lab, { writeForMs: (ARCHIVE_TIMEOUT_S + 15) * 1000, restore: () => ok('./scripts/restore.sh --yes') });
    console.log(
      `backups: total loss after ${result.acked} acknowledged writes: ${result.missing.length} missing, ` +
        `the oldest of them acknowledged ${(result.oldestMissingAgeMs / 1000).toFixed(1)} s before the loss (bound ${ARCHIVE_TIMEOUT_S} s + push); ` +
        `restore.sh took ${(result.restoreMs / 1000).toFixed(1)} s, writable through the DB router ${(result.writableAfterMs / 1000).toFixed(1)} s after it started`,
    );
    expect(result.acked).toBeGreaterThan(100);
    // The RPO bound: what was missing had been acknowledged within the last archive_timeout (+ 10 s for the push).
    expect(result.oldestMissingAgeMs).toBeLessThanOrEqual((ARCHIVE_TIMEOUT_S + 10) * 1000);
    // The other nodes re-cloned the restored primary, and replicate from it again.
    const members = await waitClusterSettled(lab, { sync: true, timeoutMs: 300_000 });
    expect(members).toHaveLength(3);
    expect(await recreatedByPlainUp()).toEqual([]);
    await ok('./scripts/backup.sh full');
  });

  test('point-in-time recovery to just before a dropped table brings back exactly the rows committed before the target', async () => {
    await writeThroughLb(lab, 20);
    const leader = (await leaderName(lab))!;
    // No write is in flight from here to the target: the rows committed before it are these.
    const expected = [...(await storedIds(lab))].sort((a, b) => a - b);
    await sleep(1_100);
    const [{ target }] = await pgQuery<{ target: string }>(
      lab,
      leader,
      "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS target",
    );
    await sleep(1_100);
    const after = await writeThroughLb(lab, 20);
    await pgQuery(lab, leader, 'DROP TABLE standin_writes');
    expect((await httpRequest(lab.published(), 'GET', '/api/standin/writes')).status).not.toBe(200);
    // The WAL up to the drop must be in the archive for recovery to reach the target: at most archive_timeout later by itself.
    await ok('./scripts/backup.sh check');
    await ok(`./scripts/restore.sh --yes --to ${shq(target!)}`);
    const restored = [...(await storedIds(lab))].sort((a, b) => a - b);
    expect(restored).toEqual(expected);
    expect(after.filter((id) => restored.includes(id))).toEqual([]);
    await waitClusterSettled(lab, { sync: true, timeoutMs: 300_000 });
    // Writable again, on the new timeline.
    expect(await writeThroughLb(lab, 3)).toHaveLength(3);
  });

  test('a new image rolled into every node by rolling-restart.sh: replicas first, the leader last, no acknowledged write lost', async () => {
    const nodes = lab.services('patroni');
    // A new image, as a new PostgreSQL minor version or Patroni release would give.
    const dockerfile = join(lab.dir, 'patroni/image/Dockerfile');
    writeFileSync(dockerfile, `${readFileSync(dockerfile, 'utf8')}LABEL lab.upgrade=1\n`);
    const imageOf = async (service: string) =>
      (await lab.docker(['inspect', '-f', '{{.Image}}', await lab.container(service)])).stdout.trim();
    const imagesBefore = await Promise.all(nodes.map(imageOf));
    await waitClusterSettled(lab, { sync: true });
    const leaderBefore = await leaderName(lab);
    const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 50, maxMs: 900_000 });
    const rolled = await ok('./scripts/rolling-restart.sh');
    await sleep(2_000);
    const writes = await writer.stop();
    const acked = ackedIds(writes);
    const outage = outageAround(writes, writes.startedAt);
    console.log(
      `upgrades: rolling-restart.sh took ${(rolled.ms / 1000).toFixed(1)} s for ${nodes.length} nodes; longest write outage ${(outage / 1000).toFixed(1)} s; ` +
        `${acked.length} writes acknowledged, ${writes.events.length - acked.length} failed`,
    );
    expect(acked.length).toBeGreaterThan(100);
    expect(await missingOnPrimary(lab, acked)).toEqual([]);
    expect(await duplicateWrites(lab)).toEqual([]);
    // Every node runs the new image, and the leader moved away before its own restart.
    const imagesAfter = await Promise.all(nodes.map(imageOf));
    expect(imagesAfter.filter((image, i) => image === imagesBefore[i])).toEqual([]);
    expect(await leaderName(lab)).not.toBe(leaderBefore);
    expect(rolled.output).toMatch(new RegExp(`switching over from ${leaderBefore}[\\s\\S]*recreating ${leaderBefore}`));
    await waitClusterSettled(lab, { sync: true });
    expect(await recreatedByPlainUp()).toEqual([]);
  });
});
