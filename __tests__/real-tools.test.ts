/**
 * The generated files, read by the programs that will read them in production:
 * HAProxy 3.2, nginx 1.30 and Patroni 4.1 from the Debian toolchain (same
 * minor versions as the pinned images), and the Compose Specification schema
 * through dclint.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Answers } from '../generators/app/questions.js';
import { filesFor, SWARM_CELLS, topologyFor, writeStack } from './helpers/stack.js';
import { engineUnavailableReason, withEngine } from '../lab/engine.js';
import { describeWithToolchain, runInToolchain } from './helpers/toolchain.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const DCLINT = fileURLToPath(new URL('../node_modules/.bin/dclint', import.meta.url));

const STACKS: Partial<Answers>[] = [
  {},
  { loadBalancer: 'nginx' },
  { loadBalancer: 'nginx', grafanaReplicas: 1, patroniNodes: 2, etcdMembers: 1 },
  { loadBalancer: 'haproxy', grafanaReplicas: 5, patroniNodes: 5, etcdMembers: 5, failoverProfile: 'upstream' },
  { loadBalancer: 'nginx', dbMode: 'single' },
  { loadBalancer: 'haproxy', dbMode: 'external', dbHost: 'pg.example.com' },
];
const PATRONI_STACKS = STACKS.filter((raw) => (raw.dbMode ?? 'patroni') === 'patroni');
/** On Swarm the DB router and the LB name members that do not exist yet (pg-9, grafana-9): each program must start with them unresolved. */
const SWARM_STACKS: Partial<Answers>[] = (['haproxy', 'nginx'] as const).map((loadBalancer) => ({
  deployTarget: 'swarm',
  imageRegistry: 'registry.example:5000',
  loadBalancer,
}));
const label = (raw: Partial<Answers>) => JSON.stringify(raw);

/** HAProxy warns that the stack's host names do not resolve outside Docker; anything else is a finding. */
const unexpectedHaproxyLines = (output: string) =>
  output.split('\n').filter((line) => /WARNING|ALERT/.test(line) && !/could not resolve address/.test(line));

describe.each(STACKS)('compose.yaml of %j against the Compose Specification (dclint)', (raw) => {
  it('has no schema or lint error', () => {
    const dir = writeStack(raw);
    // Services are in dependency order (etcd, PostgreSQL, router, Grafana, LB), not alphabetical, on purpose.
    const run = spawnSync(DCLINT, ['compose.yaml', '--disable-rule', 'services-alphabetical-order', '--max-warnings', '0'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect({ status: run.status, output: (run.stdout + run.stderr).trim() }).toEqual({ status: 0, output: '' });
  });
});

it('dclint does reject a file that breaks the schema (control)', () => {
  const dir = writeStack();
  writeFileSync(join(dir, 'compose.yaml'), 'services:\n  grafana:\n    image: grafana/grafana:13.2.3\n    replica_count: 2\n');
  const run = spawnSync(DCLINT, ['compose.yaml'], { cwd: dir, encoding: 'utf8' });
  expect(run.status).not.toBe(0);
  expect(run.stdout + run.stderr).toMatch(/services\/grafana.*must NOT have additional properties/);
});

/** `docker compose config`: Compose v2's own parser (the engine's CLI from the toolchain; no engine needed). */
const composeMissing = engineUnavailableReason();
if (composeMissing) console.warn(`\n!!! SKIPPING docker compose config checks: ${composeMissing}\n`);
const composeConfig = (dir: string) => spawnSync('docker', ['compose', 'config', '-q'], { cwd: dir, env: withEngine(), encoding: 'utf8' });
(composeMissing ? describe.skip : describe)('compose.yaml read by docker compose config (Compose v2)', () => {
  it.each(STACKS.map((raw) => [label(raw), raw]))('accepts %s without a warning', (_l, raw) => {
    const run = composeConfig(writeStack(raw));
    expect({ status: run.status, output: (run.stdout + run.stderr).trim() }).toEqual({ status: 0, output: '' });
  });
  it.each([
    ['restore', { RESTORE_TARGET: '' }],
    ['upgrade', undefined],
  ])(
    "merges the %s override (patroni/<purpose>.yaml) into pg-1: its bootstrap configuration after the node's own",
    (purpose, environment) => {
      const dir = writeStack({});
      const run = spawnSync('docker', ['compose', '-f', 'compose.yaml', '-f', `patroni/${purpose}.yaml`, 'config', '--format', 'json'], {
        cwd: dir,
        env: withEngine(),
        encoding: 'utf8',
      });
      expect({ status: run.status, stderr: run.stderr.trim() }).toEqual({ status: 0, stderr: '' });
      const pg1 = JSON.parse(run.stdout).services['pg-1'] as { command: string[]; volumes: { target: string }[]; environment?: object };
      expect(pg1.command).toEqual([`/etc/patroni/${purpose}`]);
      expect(pg1.volumes.map((v) => v.target)).toEqual(
        expect.arrayContaining([
          '/etc/patroni/patroni.yml',
          `/etc/patroni/${purpose}/1-node.yml`,
          `/etc/patroni/${purpose}/2-${purpose}.yml`,
          '/var/lib/pgbackrest',
        ]),
      );
      expect(pg1.environment).toEqual(environment);
    },
  );
  it('rejects a service that depends on one that does not exist (control)', () => {
    const dir = writeStack();
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  lb:\n    image: haproxy:3.2.22\n    depends_on: [grafana-9]\n');
    const run = composeConfig(dir);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/depends on undefined service "?grafana-9"?/);
  });
});

/** `docker stack config`: the Docker CLI's own stack loader and schema (no engine, no swarm needed). */
const stackConfig = (dir: string) =>
  spawnSync('docker', ['stack', 'config', '-c', 'stack.yaml'], { cwd: dir, env: withEngine(), encoding: 'utf8' });
(composeMissing ? describe.skip : describe)('stack.yaml read by docker stack config (the Docker CLI)', () => {
  it.each(SWARM_CELLS.map((raw) => [label(raw), raw]))('accepts %s without a warning', (_l, raw) => {
    const run = stackConfig(writeStack(raw));
    expect({ status: run.status, stderr: run.stderr.trim() }).toEqual({ status: 0, stderr: '' });
    // What Swarm ignores (restart, depends_on, security_opt, shm_size) is not in it: the CLI would drop it silently.
    expect(run.stdout).not.toMatch(/^\s+(restart|depends_on|security_opt|shm_size|build):/m);
  });
  it('rejects a service key the schema does not know (control)', () => {
    const dir = writeStack(SWARM_CELLS[0]);
    writeFileSync(join(dir, 'stack.yaml'), 'services:\n  lb:\n    image: haproxy:3.2.22\n    replica_count: 2\n');
    const run = stackConfig(dir);
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/services.lb Additional property replica_count is not allowed/);
  });
});

describeWithToolchain('the generated shell scripts, read by shellcheck', () => {
  /**
   * shellcheck cannot parse the apostrophe of gossip-address.sh's `${GOSSIP_HOST:?… replica's …}`
   * (dash can: the dash test below reads it); rewording it would restart every stack's Grafana.
   */
  const UNPARSED_BY_SHELLCHECK = 'grafana/gossip-address.sh';
  it.each([...STACKS, ...SWARM_STACKS].map((raw) => [label(raw), raw]))('finds nothing in the scripts of %s', (_l, raw) => {
    const scripts = Object.keys(filesFor(raw)).filter((path) => path.endsWith('.sh'));
    expect(scripts.length).toBeGreaterThan(0);
    const dir = writeStack(raw);
    const checked = scripts.filter((path) => path !== UNPARSED_BY_SHELLCHECK);
    const shellcheck = runInToolchain(dir, ['shellcheck', '--shell=sh', '--severity=style', ...checked]);
    expect({ status: shellcheck.status, output: shellcheck.output.trim() }).toEqual({ status: 0, output: '' });
  });
  it('does find a classic mistake (control)', () => {
    const dir = writeStack({});
    writeFileSync(join(dir, 'scripts/bad.sh'), '#!/bin/sh\nrm -rf $1/*\n');
    const run = runInToolchain(dir, ['shellcheck', '--shell=sh', 'scripts/bad.sh']);
    expect(run.status).not.toBe(0);
    expect(run.output).toMatch(/SC2086/);
  });
});

describeWithToolchain('configs checked by the real programs', () => {
  const routed = [...PATRONI_STACKS, SWARM_STACKS[0]!];
  it.each(routed.map((raw) => [label(raw), raw]))('haproxy -c accepts the DB router config of %s', (_l, raw) => {
    const run = runInToolchain(writeStack(raw), ['haproxy', '-c', '-f', 'db-router/haproxy.cfg']);
    expect(run.status).toBe(0);
    expect(unexpectedHaproxyLines(run.output)).toEqual([]);
  });

  it('the DB router counts a node as primary only while Patroni holds the lock and PostgreSQL has left recovery (real HAProxy, fake REST APIs)', () => {
    const db = topologyFor({}).database;
    if (db.mode !== 'patroni') throw new Error('a Patroni stack was expected');
    const dir = writeStack();
    const nodes = db.patroni.nodes;
    const address = (i: number) => `127.0.0.${i + 2}`;
    copyFileSync(join(FIXTURES, 'fake-patroni-rest.py'), join(dir, 'fake-patroni-rest.py'));
    // Each step: what each node's REST API answers, then what /primary-ready says once HAProxy has checked again.
    const steps = [
      ['200 primary', '503 replica', '503 replica'],
      // The first node died; the second took the lock and is promoting: 200 from Patroni, PostgreSQL still read-only.
      ['503 replica', '200 replica', '503 replica'],
      ['503 replica', '200 primary', '503 replica'],
      // A primary that lost the lock (Patroni demotes it): PostgreSQL still writable, but not routable.
      ['503 replica', '503 primary', '503 replica'],
    ];
    const answer = (step: string[]) => nodes.map((n, i) => `echo "${step[i]}" > state/${n.name}`);
    const script = [
      'set -e',
      'ip link set lo up',
      'mkdir -p state',
      ...answer(steps[0]!),
      `timeout 60 python3 fake-patroni-rest.py ${nodes.map((n, i) => `${n.name}=${address(i)}:${n.restApiPort}`).join(' ')} & rest=$!`,
      'sleep 0.5',
      'timeout 60 haproxy -f db-router/haproxy.cfg > haproxy.log 2>&1 & router=$!',
      ...steps.flatMap((step) => [
        ...answer(step),
        // fall 2 at fastinter 500 ms, downinter 1 s, rise 1: 3 s covers a transition either way.
        'sleep 3',
        `echo "ready: $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${db.dbRouter.statusPort}/primary-ready)"`,
      ]),
      'kill "$router" "$rest"',
    ].join('\n');
    const hosts = Object.fromEntries(nodes.map((n, i) => [n.name, address(i)]));
    // A network namespace of its own: HAProxy binds the router's ports, and nothing outside sees them.
    const run = runInToolchain(dir, ['unshare', '--net', 'sh', '-c', script], { hosts });
    expect(run.output.match(/^ready: \d+$/gm)).toEqual(['ready: 200', 'ready: 503', 'ready: 200', 'ready: 503']);
    expect(run.status).toBe(0);
  });

  it.each([...STACKS, ...SWARM_STACKS].filter((r) => (r.loadBalancer ?? 'haproxy') === 'haproxy').map((raw) => [label(raw), raw]))(
    'haproxy -c accepts the Grafana load balancer config of %s',
    (_l, raw) => {
      const run = runInToolchain(writeStack(raw), ['haproxy', '-c', '-f', 'lb/haproxy.cfg']);
      expect(run.status).toBe(0);
      expect(unexpectedHaproxyLines(run.output)).toEqual([]);
    },
  );

  it.each([...STACKS, ...SWARM_STACKS].filter((r) => r.loadBalancer === 'nginx').map((raw) => [label(raw), raw]))(
    'nginx -t accepts the Grafana load balancer config of %s, with no replica resolvable',
    (_l, raw) => {
      const dir = writeStack(raw);
      // Through a pipe, as Docker gives it: nginx cannot open /dev/stdout when it is a socket (spawnSync's).
      const run = runInToolchain(dir, ['bash', '-o', 'pipefail', '-c', 'nginx -t -c "$PWD/lb/nginx.conf" 2>&1 | cat']);
      expect(run.output).toMatch(/test is successful/);
      expect(run.status).toBe(0);
    },
  );

  it.each(STACKS.map((raw) => [label(raw), raw]))(
    'every generated shell script of %s parses under dash (/bin/sh of the Debian-based images)',
    (_l, raw) => {
      const dir = writeStack(raw);
      const scripts = Object.keys(filesFor(raw)).filter((p) => p.endsWith('.sh'));
      expect(scripts.length).toBeGreaterThan(1);
      for (const script of scripts) {
        const run = runInToolchain(dir, ['dash', '-n', script]);
        expect({ script, status: run.status, output: run.output.trim() }).toEqual({ script, status: 0, output: '' });
      }
    },
  );

  /** Patroni's validator connects to every etcd host: give each name a loopback address with a listener. */
  const etcdStandIns: Server[] = [];
  const etcdAddress = (i: number) => `127.0.0.${i + 2}`;
  beforeAll(async () => {
    for (let i = 0; i < 5; i++) {
      const server = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => server.listen(2379, etcdAddress(i), resolve));
      etcdStandIns.push(server);
    }
  });
  afterAll(() => etcdStandIns.forEach((s) => s.close()));

  it.each(PATRONI_STACKS.map((raw) => [label(raw), raw]))('patroni --validate-config accepts every node of %s', (_l, raw) => {
    const db = topologyFor(raw).database;
    if (db.mode !== 'patroni') throw new Error('a Patroni stack was expected');
    const dir = writeStack(raw);
    const hosts = Object.fromEntries(db.etcd.members.map((m, i) => [m.name, etcdAddress(i)]));
    for (const node of db.patroni.nodes) {
      const run = runInToolchain(dir, ['patroni', '--validate-config', node.configFile], {
        hosts,
        // What the image's entrypoint exports from the Docker secrets.
        env: { PATRONI_SUPERUSER_PASSWORD: 's', PATRONI_REPLICATION_PASSWORD: 'r', PATRONI_RESTAPI_PASSWORD: 'p' },
      });
      expect({ node: node.name, output: run.output.trim(), status: run.status }).toEqual({ node: node.name, output: '', status: 0 });
    }
  });

  it.each(['restore', 'upgrade'])(
    "patroni --validate-config accepts the %s's first-start configuration: the node's file, then its bootstrap",
    (purpose) => {
      const db = topologyFor({}).database;
      if (db.mode !== 'patroni') throw new Error('a Patroni stack was expected');
      const dir = writeStack({});
      mkdirSync(join(dir, 'first-start-check'));
      copyFileSync(join(dir, 'patroni/pg-1.yml'), join(dir, 'first-start-check/1-node.yml'));
      copyFileSync(join(dir, `patroni/${purpose}-bootstrap.yml`), join(dir, `first-start-check/2-${purpose}.yml`));
      const run = runInToolchain(dir, ['patroni', '--validate-config', 'first-start-check'], {
        hosts: Object.fromEntries(db.etcd.members.map((m, i) => [m.name, etcdAddress(i)])),
        env: { PATRONI_SUPERUSER_PASSWORD: 's', PATRONI_REPLICATION_PASSWORD: 'r', PATRONI_RESTAPI_PASSWORD: 'p' },
      });
      expect({ output: run.output.trim(), status: run.status }).toEqual({ output: '', status: 0 });
    },
  );

  it('patroni --validate-config does catch a broken node config (control)', () => {
    const dir = writeStack();
    writeFileSync(join(dir, 'patroni/pg-1.yml'), 'scope: x\nname: pg-1\nrestapi: {listen: "0.0.0.0:8008"}\n');
    const run = runInToolchain(dir, ['patroni', '--validate-config', 'patroni/pg-1.yml']);
    expect(run.status).not.toBe(0);
  });
});
