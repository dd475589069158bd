/**
 * The generated README is an executable runbook: every shell command in its
 * ```sh blocks is run here, as written, with /bin/sh from the stack folder on
 * the real engine, in the README's order, and checked to do what the README
 * says; the re-run plans the generator prints are applied command by command.
 * (`grafana-ha` on PATH is this checkout's bin, as `npm link` would put it.)
 * Needs root and the engine; skipped loudly otherwise.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, jest, test } from '@jest/globals';
import { httpRequest, leaderName, waitClusterSettled } from '../../lab/clients.js';
import { withEngine } from '../../lab/engine.js';
import { generateStack, generateStackWith, generatorBin, planCommands } from '../../lab/generate.js';
import { runShell, waitFor } from '../../lab/shell.js';
import { runbookCommands } from '../../lab/runbook.js';
import { labUnavailableReason, StackLab } from '../../lab/stack-lab.js';

const unavailable = labUnavailableReason();
if (unavailable) console.warn(`\n!!! RUNBOOK TEST SKIPPED: ${unavailable}\n`);
const describeLab = unavailable ? describe.skip : describe;
jest.setTimeout(1_200_000);

interface Variant {
  name: string;
  generate: () => string;
  /** After the run: what the README's commands should have left running. */
  expectRunning: { grafana: number; patroni: number; etcd: number };
}

const VARIANTS: Variant[] = [
  {
    name: 'default stack (HAProxy, Patroni, 2 Grafana)',
    generate: () => generateStack({ loadBalancer: 'haproxy' }),
    expectRunning: { grafana: 3, patroni: 4, etcd: 5 },
  },
  { name: 'nginx', generate: () => generateStack({ loadBalancer: 'nginx' }), expectRunning: { grafana: 3, patroni: 4, etcd: 5 } },
  // single → patroni: the migration section moves the data into a Patroni cluster.
  {
    name: 'single, then its migration to patroni',
    generate: () => generateStackWith(['--db-mode', 'single']),
    expectRunning: { grafana: 3, patroni: 3, etcd: 3 },
  },
];

for (const variant of VARIANTS)
  describeLab(`the generated README, run as written: ${variant.name}`, () => {
    let dir = '';
    const bin = mkdtempSync(join(tmpdir(), 'ggha-bin-'));
    symlinkSync(generatorBin(), join(bin, 'grafana-ha'));
    const env = { ...withEngine(), PATH: `${bin}:${withEngine().PATH}` };
    const sh = (command: string) => runShell(command, dir, env, 600_000);
    let lab: StackLab | undefined;
    const ran: string[] = [];
    afterAll(() => {
      lab?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
      rmSync(bin, { recursive: true, force: true });
      console.log(`runbook (${variant.name}): ran ${ran.length} commands:\n  ${ran.join('\n  ')}`);
    });

    /** Writes through the LB; their ids must survive everything the README does afterwards. */
    const written: number[] = [];
    const writeSome = async () => {
      for (let i = 0; i < 5; i++) {
        const r = await waitFor(
          'a write through the LB',
          async () => {
            const w = await httpRequest(lab!.published(), 'POST', '/api/standin/writes');
            return w.status === 200 ? JSON.parse(w.body) : undefined;
          },
          60_000,
          250,
        );
        written.push(r.id);
      }
    };
    const waitAllHealthy = async () => {
      lab!.refresh();
      for (const s of lab!.services()) await lab!.waitHealthy(s, 180_000);
    };

    test('every command of every ```sh block runs and does what the README says', async () => {
      dir = variant.generate();
      const commands = runbookCommands(readFileSync(join(dir, 'README.md'), 'utf8'));
      expect(commands.map((c) => c.section)).toEqual(expect.arrayContaining(['Start it', 'Check health', 'Growing the stack']));
      // Lab controls are only for looking; the README's own commands do the work. The images it needs are local.
      lab = await StackLab.attach(dir);
      for (const { section, command } of commands) {
        if (command.includes('pg_dump')) await writeSome();
        // The README's precondition for a switchover: a Sync Standby in `patronictl list`.
        if (command.includes('switchover')) await waitClusterSettled(lab, { sync: true });
        const leaderBefore = command.includes('switchover') ? await leaderName(lab) : undefined;
        const r = await sh(command);
        ran.push(`${r.code === 0 ? 'ok' : `exit ${r.code}`}  [${section}] ${command}`);
        expect({ command, code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ command, code: 0, output: '' });
        if (/^docker compose up -d( --wait)?$/.test(command)) {
          await waitAllHealthy();
          await writeSome();
        }
        if (command.startsWith('docker compose ps')) for (const s of ['lb', 'grafana-1', 'grafana-2']) expect(r.output).toContain(s);
        if (command.startsWith('curl')) expect(JSON.parse(r.output).database).toBe('ok');
        if (command.includes('patronictl') && command.includes(' list')) expect(r.output).toMatch(/Leader/);
        if (command.includes('/stats;csv')) expect(r.output).toMatch(/^primary,pg-1,/m);
        if (command.includes('etcdctl endpoint health')) expect(r.output.match(/is healthy/g)).toHaveLength(3);
        if (command.includes('switchover')) {
          expect(r.output).toMatch(/Successfully switched over/);
          const after = await waitFor(
            'a new leader after the switchover',
            async () => {
              const l = await leaderName(lab!).catch(() => undefined);
              return l && l !== leaderBefore ? l : undefined;
            },
            60_000,
            500,
          );
          expect(leaderBefore).toBeDefined();
          expect(after).not.toBe(leaderBefore);
          await waitClusterSettled(lab!, { sync: true });
        }
        if (command.startsWith('grafana-ha ')) {
          lab!.refresh();
          lab!.checkImagesPresent();
          // A re-run prints the commands that apply it to the running stack: run those too, in order, as printed.
          const plan = planCommands(r.output);
          for (const step of plan) {
            const p = await sh(step);
            ran.push(`${p.code === 0 ? 'ok' : `exit ${p.code}`}  [plan of: ${command}] ${step}`);
            expect({ step, code: p.code, output: p.code === 0 ? '' : p.output }).toEqual({ step, code: 0, output: '' });
          }
          if (plan.length) await waitClusterSettled(lab!, { sync: true, timeoutMs: 180_000 });
        }
      }
      await waitAllHealthy();
      expect({
        grafana: lab!.services('grafana-standin').length,
        patroni: lab!.services('patroni').length,
        etcd: lab!.services('etcd').length,
      }).toEqual(variant.expectRunning);
      // Nothing written through the LB along the way is missing.
      const read = await httpRequest(lab!.published(), 'GET', '/api/standin/writes');
      const stored = new Set<number>(JSON.parse(read.body).ids);
      expect(written.length).toBeGreaterThan(0);
      expect(written.filter((id) => !stored.has(id))).toEqual([]);
    });
  });
