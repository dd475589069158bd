/**
 * Every signal command the generator shows a user names its service. A bare
 * `docker compose kill -s USR2` signals every container of the stack: HAProxy
 * reloads, but the PostgreSQL nodes get USR2 too and do not survive it.
 */
import { validateAnswers } from '../generators/app/config.js';
import { describePlan, planRerun } from '../generators/app/plan.js';
import type { Answers } from '../generators/app/questions.js';
import { renderStack } from '../generators/app/render/index.js';
import { buildTopology, serviceNames, type Topology } from '../generators/app/topology.js';

const EXTERNAL = { dbMode: 'external', dbHost: 'pg.example.com' } as const;

const topology = (raw: Partial<Answers>, founders?: number): Topology => {
  const { answers, history } = validateAnswers(raw);
  return buildTopology(answers, founders ? { ...history, etcdFoundingMembers: founders } : history);
};

/** The plan the generator prints when re-run over `before`'s unedited files. */
function printedPlan(before: Topology, after: Topology): string {
  const onDisk = new Map(renderStack(before).map((f) => [f.path, f.contents]));
  return describePlan(planRerun(before, after, renderStack(after), (path) => onDisk.get(path)).plan);
}

/** `kill -s <SIG>` or `--signal`, and `docker compose kill` (or `docker kill`) without one, with what follows. */
const KILL = /(?:docker(?: compose)? kill|\bkill(?=\s+(?:-s|--signal)\b))(?:\s+(?:-s|--signal)[\s=]+(\S+?))?(?=[\s`'"]|$)([^\n`'"]*)/g;
const PLACEHOLDER = /^<[\w-]+>$/;

/** Each signal command in `text` whose next word is not one of `services` (or a `<placeholder>`). */
function unnamedSignals(text: string, services: string[]): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(KILL)) {
    const target = match[2].trim().split(/\s+/)[0] ?? '';
    if (!services.includes(target) && !PLACEHOLDER.test(target)) found.push(match[0].trim());
  }
  return found;
}

const STACKS: [string, Partial<Answers>][] = [
  ['haproxy', {}],
  ['nginx', { loadBalancer: 'nginx' }],
  ['single', { dbMode: 'single' }],
  ['external', { ...EXTERNAL }],
  ['grown', { grafanaReplicas: 3, patroniNodes: 4, etcdMembers: 5 }],
];

const RERUNS: [string, Topology, Topology][] = [
  ['haproxy grow', topology({}), topology({ grafanaReplicas: 3, patroniNodes: 4, etcdMembers: 5 }, 3)],
  [
    'nginx grow',
    topology({ loadBalancer: 'nginx' }),
    topology({ loadBalancer: 'nginx', grafanaReplicas: 3, patroniNodes: 4, etcdMembers: 5 }, 3),
  ],
  ['nginx shrink', topology({ loadBalancer: 'nginx', grafanaReplicas: 3 }), topology({ loadBalancer: 'nginx' })],
  ['single grow', topology({ dbMode: 'single' }), topology({ dbMode: 'single', grafanaReplicas: 3 })],
  ['external grow', topology({ ...EXTERNAL }), topology({ ...EXTERNAL, grafanaReplicas: 3 })],
  ['load balancer switch', topology({}), topology({ loadBalancer: 'nginx' })],
  ['patroni settings', topology({}), topology({ synchronousReplication: false, failoverProfile: 'upstream' })],
  ['shrink forced', topology({ patroniNodes: 4, etcdMembers: 5 }), topology({ patroniNodes: 3, etcdMembers: 3 })],
];

it('finds a signal command without a service, and accepts one with', () => {
  const services = ['db-router', 'lb'];
  expect(unnamedSignals('reload it (`docker compose kill -s USR2`: HAProxy re-reads)', services)).toEqual(['docker compose kill -s USR2']);
  expect(unnamedSignals('    docker compose kill -s SIGHUP\n', services)).toEqual(['docker compose kill -s SIGHUP']);
  expect(unnamedSignals('then docker compose kill --signal=USR2 and wait', services)).toHaveLength(1);
  expect(unnamedSignals('`docker compose kill`', services)).toHaveLength(1);
  expect(unnamedSignals('a bare `kill -s USR2` signals them all', services)).toEqual(['kill -s USR2']);
  expect(unnamedSignals('`docker compose kill -s USR2 db-router`, `docker compose kill -s USR2 lb`', services)).toEqual([]);
  expect(unnamedSignals('`docker compose kill -s SIGKILL <primary>`', services)).toEqual([]);
});

it.each(STACKS)('the %s stack README names the service of every signal command', (_name, raw) => {
  const t = topology(raw);
  const readme = renderStack(t).find((f) => f.path === 'README.md')!.contents;
  expect(unnamedSignals(readme, serviceNames(t))).toEqual([]);
});

it.each(RERUNS)('the plan printed for a %s names the service of every signal command', (_name, before, after) => {
  const plan = printedPlan(before, after);
  expect(unnamedSignals(plan, serviceNames(after))).toEqual([]);
});

it('sees the reload commands it checks (the scan is not vacuous)', () => {
  const [, before, after] = RERUNS[0];
  expect(printedPlan(before, after)).toContain('docker compose kill -s USR2 db-router');
  expect(printedPlan(before, after)).toContain('docker compose kill -s USR2 lb');
  const readme = renderStack(topology({})).find((f) => f.path === 'README.md')!.contents;
  expect(readme).toContain('docker compose kill -s USR2 db-router');
});
