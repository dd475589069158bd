/**
 * The generated README is an executable runbook: every shell command in its
 * ```sh blocks is run here, as written, with /bin/sh from the stack folder on
 * the real engine, in the README's order, and checked to do what the README
 * says; the re-run plans the generator prints are applied command by command.
 * (`grafana-ha` on PATH is this checkout's bin, as `npm link` would put it.)
 * Needs root and the engine; skipped loudly otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { leaderName, waitClusterSettled } from '../../lab/clients.js';
import { withEngine } from '../../lab/engine.js';
import { generateStack, generatorBin, planCommands } from '../../lab/generate.js';
import { waitFor } from '../../lab/shell.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`\n!!! RUNBOOK TEST SKIPPED: ${unavailable}\n`);
const describeLab = unavailable ? describe.skip : describe;
jest.setTimeout(1_200_000);

/** Every command line of the README's ```sh blocks (indented ones too), with the heading it stands under. */
export function runbookCommands(readme: string): { section: string; command: string }[] {
  const out: { section: string; command: string }[] = [];
  let section = '';
  let inBlock = false;
  for (const line of readme.split('\n')) {
    const heading = /^#+\s+(.*)$/.exec(line);
    if (heading && !inBlock) section = heading[1];
    if (/^\s*```sh\s*$/.test(line)) inBlock = true;
    else if (/^\s*```\s*$/.test(line)) inBlock = false;
    else if (inBlock && line.trim() && !line.trim().startsWith('#')) out.push({ section, command: line.trim() });
  }
  return out;
}

describeLab('the generated README, run as written (default stack: HAProxy, Patroni, 2 Grafana)', () => {
  const dir = generateStack({ loadBalancer: 'haproxy' });
  const bin = mkdtempSync(join(tmpdir(), 'ggha-bin-'));
  symlinkSync(generatorBin(), join(bin, 'grafana-ha'));
  const env = { ...withEngine(), PATH: `${bin}:${withEngine().PATH}` };
  const sh = (command: string) => {
    const r = spawnSync('/bin/sh', ['-c', command], { cwd: dir, env, encoding: 'utf8', timeout: 600_000 });
    return { code: r.status, output: `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '') };
  };
  let lab: StackLab | undefined;
  const ran: string[] = [];
  afterAll(() => {
    lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(bin, { recursive: true, force: true });
    console.log(`runbook: ran ${ran.length} commands:\n  ${ran.join('\n  ')}`);
  });

  test('every command of every ```sh block runs and does what the README says', async () => {
    const commands = runbookCommands(readFileSync(join(dir, 'README.md'), 'utf8'));
    expect(commands.map((c) => c.section)).toEqual(expect.arrayContaining(['Start it', 'Check health', 'Failover', 'Growing the stack']));
    // Lab controls are only for looking; the README's own commands do the work. The images it needs are local.
    lab = await StackLab.attach(dir);
    for (const { section, command } of commands) {
      const r = sh(command);
      ran.push(`${r.code === 0 ? 'ok' : `exit ${r.code}`}  [${section}] ${command}`);
      expect({ command, code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ command, code: 0, output: '' });
      if (command === 'docker compose up -d') {
        for (const s of lab.services()) await lab.waitHealthy(s, 180_000);
      }
      if (command.startsWith('docker compose ps')) for (const s of ['lb', 'grafana-1', 'grafana-2', 'db-router', 'pg-1', 'etcd-1']) expect(r.output).toContain(s);
      if (command.startsWith('curl')) expect(JSON.parse(r.output).database).toBe('ok');
      if (command.includes('patronictl') && command.includes(' list')) expect(r.output).toMatch(/Leader/);
      if (command.includes('etcdctl endpoint health')) expect(r.output.match(/is healthy/g)).toHaveLength(3);
      if (command.includes('switchover')) {
        const before = r.output.match(/Current cluster topology[\s\S]*?\|\s*(pg-\d)\s*\|[^|]*\|\s*Leader/)?.[1];
        const after = await waitFor('a new leader after the switchover', async () => {
          const l = await leaderName(lab!).catch(() => undefined);
          return l && l !== before ? l : undefined;
        }, 60_000, 500);
        expect(after).not.toBe(before);
        await waitClusterSettled(lab!, { sync: true });
      }
      if (command.startsWith('grafana-ha ')) {
        // A re-run prints the commands that apply it: run those too, in order, as printed.
        const plan = planCommands(r.output);
        expect(plan.length).toBeGreaterThan(0);
        for (const step of plan) {
          const p = sh(step);
          ran.push(`${p.code === 0 ? 'ok' : `exit ${p.code}`}  [plan of: ${command}] ${step}`);
          expect({ step, code: p.code, output: p.code === 0 ? '' : p.output }).toEqual({ step, code: 0, output: '' });
        }
        lab!.refresh();
        await waitClusterSettled(lab!, { sync: true, timeoutMs: 180_000 });
      }
    }
    // What the re-runs asked for is running: 3 Grafana, 4 Patroni, 5 etcd members, all healthy.
    expect(lab!.services('grafana-standin')).toHaveLength(3);
    expect(lab!.services('patroni')).toHaveLength(4);
    expect(lab!.services('etcd')).toHaveLength(5);
    for (const s of lab!.services()) await lab!.waitHealthy(s, 180_000);
    // The prose's reload command, with its service named, leaves every other container as it was.
    const started = sh("docker compose ps --format '{{.Service}} {{.RunningFor}}'").output;
    expect(sh('docker compose kill -s USR2 db-router').code).toBe(0);
    await lab!.waitHealthy('db-router', 30_000);
    expect(sh("docker compose ps --format '{{.Service}} {{.RunningFor}}'").output.split('\n').length).toBe(started.split('\n').length);
    for (const s of lab!.services()) expect(await lab!.isRunning(s)).toBe(true);
  });
});
