/**
 * Backups on the real engine: pgBackRest in the generated Patroni image, the stack's own scripts
 * (scripts/backup.sh, scripts/restore.sh) run as the README shows them. A total loss of every
 * PostgreSQL volume is restored with no acknowledged write missing beyond the archive_timeout bound,
 * and a point-in-time recovery brings back exactly the rows committed before its target. Figures
 * are printed, not asserted (npm run bench:backup measures them on a stated database size).
 * Needs root and the engine; skipped loudly otherwise.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { httpRequest, leaderName, pgQuery, waitClusterSettled } from '../../lab/clients.js';
import { withEngine } from '../../lab/engine.js';
import { generateStack } from '../../lab/generate.js';
import { runShell, shq, sleep, waitFor } from '../../lab/shell.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';
import { storedIds, totalLoss, writeThroughLb } from '../../lab/backups.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`\n!!! BACKUP TESTS SKIPPED: ${unavailable}\n`);
const describeLab = unavailable ? describe.skip : describe;
const log = (l: string) => process.env.GGHA_LAB_VERBOSE && console.log(l);
jest.setTimeout(900_000);

/** The stack's archive_timeout (patroni/pg-1.yml): the bound on what a total loss may lose. */
const ARCHIVE_TIMEOUT_S = 60;

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

  beforeAll(async () => {
    lab = await StackLab.start(generateStack({ loadBalancer: 'haproxy' }), { log, removeStackDir: true });
    await waitClusterSettled(lab, { sync: true });
  }, 900_000);
  afterAll(() => lab?.destroy());

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
});
