/** Re-running the generator over an existing stack: grow, shrink, refuse, keep secrets and edits. */
import helpers from 'yeoman-test';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { validateAnswers } from '../generators/app/config.js';
import { planChange } from '../generators/app/plan.js';
import type { Answers } from '../generators/app/questions.js';
import { RECORD_FILE } from '../generators/app/record.js';
import { buildTopology } from '../generators/app/topology.js';
import { cliOptions, failureOf, generate, GENERATOR, readTree } from './helpers/stack.js';

type Services = Record<string, { environment?: Record<string, string>; volumes?: string[] }>;
const servicesIn = (dir: string) => (load(readFileSync(join(dir, 'compose.yaml'), 'utf8')) as { services: Services }).services;

/** yeoman-test passes --force by default; a user's plain re-run does not. */
const rerun = (dir: string, options: Record<string, unknown>) => generate({ force: false, ...options }, dir);

/** A plain re-run, returning what the generator printed (the plan among it). */
async function rerunPrinted(dir: string, options: Record<string, unknown> = {}): Promise<string> {
  const printed: string[] = [];
  await helpers
    .run(GENERATOR, {}, { force: false })
    .withOptions(cliOptions({ defaults: true, force: false, ...options }))
    .cd(dir)
    .onGenerator((generator) => {
      const log = (generator as unknown as { log: { info: (message: string) => unknown } }).log;
      log.info = (message: string) => {
        printed.push(message);
        return log;
      };
    });
  return printed.join('\n');
}

const YO_RC = '.yo-rc.json';

/** What the plan must print to restart one replica without a failed request, spelled out. */
const outRecreateIn = (replica: string) => [
  `./scripts/lb-rotation.sh out ${replica}`,
  `docker compose up -d --no-deps --force-recreate --wait ${replica}`,
  `./scripts/lb-rotation.sh in ${replica}`,
];
const storedIn = (dir: string) => JSON.parse(readFileSync(join(dir, YO_RC), 'utf8'))['generator-grafana-ha'] as Record<string, unknown>;
const etcdServices = (dir: string) => Object.entries(servicesIn(dir)).filter(([name]) => name.startsWith('etcd-'));

describe('growing a stack', () => {
  it('adds Grafana, Patroni and etcd services, joining new etcd members to the running cluster', async () => {
    const first = await generate({});
    const secretsBefore = Object.entries(readTree(first.cwd)).filter(([p]) => p.startsWith('secrets/'));
    await rerun(first.cwd, { 'grafana-replicas': 3, 'patroni-nodes': 4, 'etcd-members': 5 });

    const services = servicesIn(first.cwd);
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['grafana-3', 'pg-4', 'etcd-4', 'etcd-5']));
    // Founders keep bootstrapping as a new cluster; newcomers join the existing one, each knowing everyone before it.
    expect(services['etcd-3'].environment).toMatchObject({ ETCD_INITIAL_CLUSTER_STATE: 'new' });
    expect(services['etcd-3'].environment!.ETCD_INITIAL_CLUSTER.split(',')).toHaveLength(3);
    expect(services['etcd-4'].environment).toMatchObject({ ETCD_INITIAL_CLUSTER_STATE: 'existing' });
    expect(services['etcd-4'].environment!.ETCD_INITIAL_CLUSTER.split(',')).toHaveLength(4);
    expect(services['etcd-5'].environment!.ETCD_INITIAL_CLUSTER.split(',')).toHaveLength(5);

    const tree = readTree(first.cwd);
    expect(tree['grafana/grafana.ini']).toContain('grafana-3.app:9094');
    expect(tree['db-router/haproxy.cfg']).toContain('server pg-4 pg-4:5432');
    expect(tree['lb/haproxy.cfg']).toContain('server grafana-3 grafana-3:3000');
    expect(tree['patroni/pg-1.yml']).toContain('etcd-5:2379');
    expect(Object.entries(tree).filter(([p]) => p.startsWith('secrets/'))).toEqual(secretsBefore);
    expect(JSON.parse(tree['.yo-rc.json'])['generator-grafana-ha']).toMatchObject({ etcdMembers: 5, etcdFoundingMembers: 3 });
  });

  it('joins members re-added after a shrink to the existing cluster', async () => {
    const first = await generate({ 'etcd-members': 5 });
    await rerun(first.cwd, { 'etcd-members': 3, force: true });
    await rerun(first.cwd, { 'etcd-members': 5 });
    const services = servicesIn(first.cwd);
    expect(services['etcd-4'].environment).toMatchObject({ ETCD_INITIAL_CLUSTER_STATE: 'existing' });
    expect(services['etcd-5'].environment).toMatchObject({ ETCD_INITIAL_CLUSTER_STATE: 'existing' });
  });

  it('switches the load balancer without a question, removing the old config file it wrote', async () => {
    const first = await generate({});
    const result = await helpers
      .run(GENERATOR, {}, { force: false })
      .withOptions(cliOptions({ defaults: true, force: false, 'load-balancer': 'nginx' }))
      .cd(first.cwd);
    expect(result.askedQuestions).toEqual([]);
    expect(existsSync(join(first.cwd, 'lb/haproxy.cfg'))).toBe(false);
    expect(existsSync(join(first.cwd, 'lb/nginx.conf'))).toBe(true);
  });

  it('keeps the etcd founders recorded across later runs', async () => {
    const first = await generate({ 'etcd-members': 3 });
    await rerun(first.cwd, { 'etcd-members': 5 });
    await rerun(first.cwd, { 'grafana-replicas': 4 });
    const services = servicesIn(first.cwd);
    expect(services['etcd-4'].environment).toMatchObject({ ETCD_INITIAL_CLUSTER_STATE: 'existing' });
    expect(services['etcd-1'].environment).toMatchObject({ ETCD_INITIAL_CLUSTER_STATE: 'new' });
  });
});

describe('the plan printed before writing', () => {
  const topology = (raw: Partial<Answers>, founders?: number) => {
    const { answers, history } = validateAnswers(raw);
    return buildTopology(answers, founders ? { ...history, etcdFoundingMembers: founders } : history);
  };

  it('orders the commands: etcd one member at a time, then PostgreSQL, the router, new Grafana replicas, the load balancer, the old replicas out of rotation one at a time', () => {
    const before = topology({});
    const after = topology({ grafanaReplicas: 3, patroniNodes: 4, etcdMembers: 5 }, 3);
    const plan = planChange(before, after, [
      'compose.yaml',
      'grafana/grafana.ini',
      'db-router/haproxy.cfg',
      'lb/haproxy.cfg',
      'patroni/pg-1.yml',
    ]);
    expect(plan.refusals).toEqual([]);
    expect(plan.added).toEqual(['etcd-4', 'etcd-5', 'pg-4', 'grafana-3']);
    expect(plan.commands).toEqual([
      './scripts/etcd-add-member.sh etcd-4',
      './scripts/etcd-add-member.sh etcd-5',
      'docker compose up -d --build pg-4',
      'docker compose exec pg-1 patronictl reload grafana-ha --force',
      'docker compose kill -s USR2 db-router',
      'docker compose up -d --no-deps --wait grafana-3',
      'docker compose kill -s USR2 lb',
      ...outRecreateIn('grafana-1'),
      ...outRecreateIn('grafana-2'),
    ]);
  });

  it('rebuilds a changed Patroni image (a new PostgreSQL minor or Patroni release) into every node, one at a time, the leader last', () => {
    const plan = planChange(topology({}), topology({}), ['patroni/image/Dockerfile']);
    expect(plan.commands).toEqual(['./scripts/rolling-restart.sh']);
    expect(plan.notes.join('\n')).toMatch(/pg-1, pg-2, pg-3 are recreated one at a time, the leader last after a switchover/);
    // Added nodes start from the new image; only the others roll.
    const grown = planChange(topology({}), topology({ patroniNodes: 4 }), ['patroni/image/Dockerfile']);
    expect(grown.commands.filter((c) => c.includes('pg-'))).toEqual([
      'docker compose up -d --build pg-4',
      // Recreated, they read their new configuration: no reload.
      './scripts/rolling-restart.sh pg-1 pg-2 pg-3',
    ]);
  });

  it('rolls Grafana within a major version, but stops every old replica before a new major version migrates, after a backup', () => {
    expect(planChange(topology({}), topology({ grafanaVersion: '13.9.0' }), ['compose.yaml']).commands).toEqual([
      ...outRecreateIn('grafana-1'),
      ...outRecreateIn('grafana-2'),
    ]);
    const major = planChange(topology({}), topology({ grafanaVersion: '14.0.0', grafanaReplicas: 3 }), ['compose.yaml', 'lb/haproxy.cfg']);
    expect(major.commands).toEqual([
      'docker compose kill -s USR2 lb',
      './scripts/backup.sh incr',
      'docker compose stop grafana-1 grafana-2',
      'docker compose up -d --no-deps --wait grafana-1',
      'docker compose up -d --no-deps --wait grafana-2',
      'docker compose up -d --no-deps --wait grafana-3',
    ]);
    expect(major.notes.join('\n')).toMatch(/13\.2\.3 → 14\.0\.0 is a new major version: .*Grafana is down until that replica is healthy/);
    // Without backups there is no restore point to take: the note asks for one.
    const bare = planChange(topology({ backups: 'none' }), topology({ backups: 'none', grafanaVersion: '14.0.0' }), ['compose.yaml']);
    expect(bare.commands[0]).toBe('docker compose stop grafana-1 grafana-2');
    expect(bare.notes.join('\n')).toMatch(/Back up its database first/);
  });

  it('reloads nginx first, then removes Grafana replicas only after the load balancer stopped using them', () => {
    const plan = planChange(topology({ loadBalancer: 'nginx', grafanaReplicas: 3 }), topology({ loadBalancer: 'nginx' }), [
      'grafana/grafana.ini',
      'lb/nginx.conf',
    ]);
    expect(plan.removed).toEqual(['grafana-3']);
    // `docker compose rm` no longer knows a service that left compose.yaml: --remove-orphans does.
    expect(plan.commands[0]).toBe('docker compose exec lb nginx -s reload');
    expect(plan.commands.at(-1)).toBe('docker compose up -d --no-recreate --remove-orphans');
  });

  it('a forced switch of database mode prints no command that would start Grafana before the data is restored', () => {
    const plan = planChange(topology({ dbMode: 'single' }), topology({ dbMode: 'patroni' }), ['compose.yaml']);
    expect(plan.commands).toEqual([]);
    expect(plan.notes.join('\n')).toMatch(/do not start the whole stack yet.*restore.*README\.md/);
  });

  it('rolls out a changed service definition one replica at a time, each out of the rotation while it restarts, and only that', () => {
    for (const loadBalancer of ['haproxy', 'nginx'] as const) {
      const plan = planChange(topology({ loadBalancer }), topology({ loadBalancer, grafanaVersion: '13.2.4' }), ['compose.yaml']);
      expect(plan.commands).toEqual([...outRecreateIn('grafana-1'), ...outRecreateIn('grafana-2')]);
    }
    // A lone replica has no other to serve while it is out: it is simply recreated.
    expect(
      planChange(topology({ grafanaReplicas: 1 }), topology({ grafanaReplicas: 1, grafanaVersion: '13.2.4' }), ['compose.yaml']).commands,
    ).toEqual(['docker compose up -d --no-deps --force-recreate --wait grafana-1']);
    // A new load balancer (here a new published port) is up before any replica leaves its rotation.
    const port = planChange(topology({}), topology({ httpPort: 9090 }), ['compose.yaml', 'grafana/grafana.ini']);
    expect(port.commands[0]).toBe('docker compose up -d --no-deps --force-recreate --wait lb');
  });

  it('recreates the load balancer, without reloading the old one, when its kind changes', () => {
    const plan = planChange(topology({}), topology({ loadBalancer: 'nginx' }), ['compose.yaml', 'lb/nginx.conf', 'lb/haproxy.cfg']);
    expect(plan.commands).toEqual(['docker compose up -d --no-deps --force-recreate --wait lb']);
  });

  it('prints every patronictl command plainly, without -c (the image sets PATRONICTL_CONFIG_FILE)', () => {
    const plans = [
      planChange(topology({}), topology({ patroniNodes: 4, etcdMembers: 5 }, 3), ['patroni/pg-1.yml']),
      planChange(topology({}), topology({ synchronousReplication: false }), ['patroni/pg-1.yml']),
      planChange(topology({}), topology({ postgresMajor: 17 }), ['compose.yaml']),
      planChange(topology({ patroniNodes: 4 }), topology({ patroniNodes: 3 }), ['compose.yaml']),
    ];
    const printed = plans.map((plan) => [...plan.refusals, ...plan.notes, ...plan.commands].join('\n')).join('\n');
    expect(printed).toContain('docker compose exec pg-1 patronictl switchover');
    expect(printed).toContain('docker compose exec pg-1 patronictl list');
    expect(printed).toContain('docker compose exec pg-1 patronictl edit-config');
    expect(printed).not.toMatch(/patronictl (-c|--config-file)\b/);
  });

  it('moves a Patroni stack on Compose to a newer PostgreSQL major with the upgrade script alone, and tells of the downtime', () => {
    const plan = planChange(topology({ postgresMajor: 17 }), topology({ postgresMajor: 18 }), ['compose.yaml', 'patroni/image/Dockerfile']);
    expect(plan.refusals).toEqual([]);
    expect(plan.commands).toEqual(['./scripts/upgrade-postgres-major.sh --yes']);
    expect(plan.notes.join('\n')).toMatch(/PostgreSQL 17 → 18: Grafana is down/);
  });

  it('refuses a new major with other changes, in single mode, and on Swarm, naming why', () => {
    const swarm = { deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/g' } as Partial<Answers>;
    const refused = (was: Partial<Answers>, now: Partial<Answers>) =>
      planChange(topology(was), topology(now), ['compose.yaml']).refusals.join('\n');
    expect(refused({ postgresMajor: 17 }, { postgresMajor: 18, grafanaReplicas: 3, httpPort: 9090 })).toMatch(
      /--postgres-major 17 → 18 is applied on its own.*--grafana-replicas, --http-port/,
    );
    expect(refused({ postgresMajor: 17, dbMode: 'single' }, { postgresMajor: 18, dbMode: 'single' })).toMatch(
      /17 → 18:.*no upgrade script.*pg_dump/,
    );
    expect(refused({ postgresMajor: 17, ...swarm }, { postgresMajor: 18, ...swarm })).toMatch(/17 → 18:.*no upgrade script/);
  });

  it('applies Patroni bootstrap settings to a running cluster with patronictl edit-config', () => {
    const plan = planChange(topology({}), topology({ synchronousReplication: false, failoverProfile: 'upstream' }), ['patroni/pg-1.yml']);
    expect(plan.commands).toContain(
      'docker compose exec pg-1 patronictl edit-config --force -s synchronous_mode=false -s ttl=30 -s loop_wait=10 -s retry_timeout=10',
    );
  });
});

describe('changes a running stack cannot take', () => {
  it.each([
    [{ 'patroni-nodes': 2 }, /--patroni-nodes 3 → 2.*switchover/],
    [{ 'etcd-members': 1 }, /--etcd-members 3 → 1.*member remove/],
    [{ 'project-name': 'other' }, /--project-name grafana-ha → other/],
    [{ 'postgres-major': 17 }, /--postgres-major 18 → 17: a downgrade.*dumps\//],
  ])('refuses %j with the way to do it by hand, and writes nothing', async (options, message) => {
    const first = await generate({});
    const before = readTree(first.cwd);
    expect(await failureOf(rerun(first.cwd, options))).toMatch(message);
    expect(readTree(first.cwd)).toEqual(before);
  });

  it('shrinks with --force once done by hand, removing the files no longer generated', async () => {
    const first = await generate({ 'patroni-nodes': 4 });
    await rerun(first.cwd, { 'patroni-nodes': 3, force: true });
    expect(existsSync(join(first.cwd, 'patroni/pg-4.yml'))).toBe(false);
    expect(Object.keys(servicesIn(first.cwd))).not.toContain('pg-4');
  });
});

describe('secrets and edits', () => {
  it('refuses to invent a missing secret for an existing stack unless told it never started', async () => {
    const first = await generate({});
    const secretKey = join(first.cwd, 'secrets/grafana-secret-key');
    rmSync(secretKey);
    expect(await failureOf(rerun(first.cwd, {}))).toMatch(/secrets\/grafana-secret-key is missing[\s\S]*--create-missing-secrets/);
    expect(existsSync(secretKey)).toBe(false);
    await rerun(first.cwd, { 'create-missing-secrets': true });
    expect(readFileSync(secretKey, 'utf8')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('asks before overwriting a file the user edited; kept, the change is reported as not applied and planned again next time', async () => {
    const first = await generate({});
    const lbConfig = join(first.cwd, 'lb/haproxy.cfg');
    appendFileSync(lbConfig, '# tuned by hand\n');
    const recordBefore = readFileSync(join(first.cwd, RECORD_FILE), 'utf8');
    const run = helpers
      .run(GENERATOR, {}, { force: false })
      .withOptions(cliOptions({ defaults: true, force: false, 'grafana-replicas': 3 }))
      .withAnswers({ action: 'skip' })
      .cd(first.cwd);
    expect(await failureOf(run)).toMatch(/Not applied: you kept your version of lb\/haproxy\.cfg\. The stack is NOT updated/);
    // Only the edited file raised a question; the unedited ones were replaced silently.
    expect(run.askedQuestions.map((q) => q.name)).toEqual(['action']);
    expect(readFileSync(lbConfig, 'utf8')).toContain('# tuned by hand');
    expect(readFileSync(lbConfig, 'utf8')).not.toContain('grafana-3');
    expect(readFileSync(join(first.cwd, 'grafana/grafana.ini'), 'utf8')).toContain('grafana-3.app:9094');
    // Nothing recorded: the next run plans the whole change again (grafana.ini is already written, yet
    // the replicas still have to be recreated for the new peer).
    expect(readFileSync(join(first.cwd, RECORD_FILE), 'utf8')).toBe(recordBefore);
    const again = await rerunPrinted(first.cwd, { 'grafana-replicas': 3, force: true });
    expect(again).toMatch(/services added: grafana-3/);
    expect(again).toContain('docker compose up -d --no-deps --force-recreate --wait grafana-1');
    expect(readFileSync(join(first.cwd, RECORD_FILE), 'utf8')).not.toBe(recordBefore);
  });
});

describe('the etcd data directory', () => {
  /**
   * A stack generated before the layout was recorded: every member's data in the volume root, and
   * no etcdDataDir in .yo-rc.json. Apart from that, the stack is what this generator writes.
   */
  async function oldStack(options: Record<string, unknown> = {}): Promise<string> {
    const { cwd } = await generate(options);
    const compose = readFileSync(join(cwd, 'compose.yaml'), 'utf8');
    const members = Number(options['etcd-members'] ?? 3);
    expect(compose.match(/ETCD_DATA_DIR: \/var\/lib\/etcd\/data$/gm)).toHaveLength(members);
    writeFileSync(join(cwd, 'compose.yaml'), compose.replace(/ETCD_DATA_DIR: \/var\/lib\/etcd\/data$/gm, 'ETCD_DATA_DIR: /var/lib/etcd'));
    const { etcdDataDir, ...stored } = storedIn(cwd);
    expect(etcdDataDir).toBe('/var/lib/etcd/data');
    writeFileSync(join(cwd, YO_RC), JSON.stringify({ 'generator-grafana-ha': stored }, null, 2));
    // Such a stack predates the record of the last generation too.
    rmSync(join(cwd, RECORD_FILE));
    return cwd;
  }

  it('is a subdirectory of the volume in a new stack (etcd creates it 0700), and .yo-rc.json records it', async () => {
    const { cwd } = await generate({});
    const members = etcdServices(cwd);
    expect(members.map(([name]) => name)).toEqual(['etcd-1', 'etcd-2', 'etcd-3']);
    for (const [name, service] of members) {
      expect(service.volumes).toEqual([`${name}-data:/var/lib/etcd`]);
      expect(service.environment).toMatchObject({ ETCD_DATA_DIR: '/var/lib/etcd/data' });
    }
    expect(storedIn(cwd)).toMatchObject({ etcdDataDir: '/var/lib/etcd/data' });
  });

  it('stays the volume root on a re-run of a stack recorded without it: nothing changes, nothing is recreated, and the root is recorded', async () => {
    const dir = await oldStack();
    const before = readTree(dir);
    const printed = await rerunPrinted(dir);
    const { [YO_RC]: _stored, [RECORD_FILE]: recorded, ...after } = readTree(dir);
    const { [YO_RC]: _storedBefore, ...unchanged } = before;
    expect(after).toEqual(unchanged);
    // It has a record from now on, holding the root too.
    expect(JSON.parse(recorded).stored).toMatchObject({ etcdDataDir: '/var/lib/etcd' });
    for (const [, service] of etcdServices(dir)) expect(service.environment).toMatchObject({ ETCD_DATA_DIR: '/var/lib/etcd' });
    expect(printed).toContain('nothing to apply to the running stack.');
    expect(printed).not.toMatch(/etcd-\d/);
    expect(storedIn(dir)).toMatchObject({ etcdDataDir: '/var/lib/etcd' });
    // The next runs read the recorded root, not the default.
    await rerun(dir, { 'grafana-replicas': 3 });
    for (const [, service] of etcdServices(dir)) expect(service.environment).toMatchObject({ ETCD_DATA_DIR: '/var/lib/etcd' });
  });

  it('stays the volume root for the new members of a grown old stack, which join it; the old members are not recreated', async () => {
    const dir = await oldStack();
    const printed = await rerunPrinted(dir, { 'etcd-members': 5 });
    const members = etcdServices(dir);
    expect(members.map(([name]) => name)).toEqual(['etcd-1', 'etcd-2', 'etcd-3', 'etcd-4', 'etcd-5']);
    for (const [name, service] of members) {
      expect(service.volumes).toEqual([`${name}-data:/var/lib/etcd`]);
      expect(service.environment).toMatchObject({ ETCD_DATA_DIR: '/var/lib/etcd' });
    }
    expect(printed).toContain('./scripts/etcd-add-member.sh etcd-4');
    expect(printed).toContain('./scripts/etcd-add-member.sh etcd-5');
    expect(printed).not.toMatch(/--force-recreate --wait etcd-/);
    expect(storedIn(dir)).toMatchObject({ etcdMembers: 5, etcdFoundingMembers: 3, etcdDataDir: '/var/lib/etcd' });
  });

  it('stays the subdirectory when a new stack grows', async () => {
    const { cwd } = await generate({});
    const printed = await rerunPrinted(cwd, { 'etcd-members': 5 });
    for (const [, service] of etcdServices(cwd)) expect(service.environment).toMatchObject({ ETCD_DATA_DIR: '/var/lib/etcd/data' });
    expect(printed).not.toMatch(/--force-recreate --wait etcd-/);
  });

  it('is the subdirectory for the etcd of a stack switched to patroni from single (it had no etcd)', async () => {
    const { cwd } = await generate({ 'db-mode': 'single' });
    expect(storedIn(cwd)).not.toHaveProperty('etcdDataDir');
    await rerun(cwd, { 'db-mode': 'patroni', force: true });
    for (const [, service] of etcdServices(cwd)) expect(service.environment).toMatchObject({ ETCD_DATA_DIR: '/var/lib/etcd/data' });
    expect(storedIn(cwd)).toMatchObject({ etcdDataDir: '/var/lib/etcd/data' });
  });

  it('refuses a hand-edited value that is neither layout, naming it, and writes nothing', async () => {
    const { cwd } = await generate({});
    writeFileSync(join(cwd, YO_RC), JSON.stringify({ 'generator-grafana-ha': { ...storedIn(cwd), etcdDataDir: '/srv/etcd' } }));
    const before = readTree(cwd);
    const error = await failureOf(rerun(cwd, { 'grafana-replicas': 3 }));
    expect(error).toMatch(/\.yo-rc\.json: etcdDataDir .*must be one of \/var\/lib\/etcd\/data, \/var\/lib\/etcd \(got "\/srv\/etcd"\)/);
    expect(readTree(cwd)).toEqual(before);
  });
});
