/**
 * The Swarm deploy target, from the pipeline alone: what stack.yaml places where, how it hands over
 * secrets and configs, which images it names, and the label script that places the stack on hosts
 * (run against a fake `docker` that records what it is asked). The real engine runs it in
 * __tests__/lab/swarm-stack.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { ConfigError, validateAnswers } from '../generators/app/config.js';
import { APP_SUBNET, DB_ROUTER_TASKS, LABEL_SCRIPT, WAIT_SCRIPT } from '../generators/app/kinds/swarm.js';
import { planChange } from '../generators/app/plan.js';
import type { Answers } from '../generators/app/questions.js';
import { composeObject } from '../generators/app/render/compose.js';
import { filesFor, topologyFor } from './helpers/stack.js';

const SWARM: Partial<Answers> = { deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/team' };

type Service = {
  image: string;
  environment?: Record<string, string>;
  volumes?: unknown[];
  configs?: { source: string; target: string; mode: number }[];
  secrets?: { source: string; target: string; uid: string; gid: string; mode: number }[];
  ports?: { target: number; published: number; mode: string }[];
  healthcheck?: { test: string[] };
  deploy: {
    mode?: string;
    replicas?: number;
    endpoint_mode: string;
    placement: { constraints?: string[]; max_replicas_per_node?: number };
    restart_policy: { condition: string };
    update_config: { parallelism: number; failure_action: string; order: string };
  };
};
type Stack = {
  services: Record<string, Service>;
  networks: Record<string, { driver: string; internal?: boolean; driver_opts?: Record<string, string>; ipam?: unknown }>;
  configs: Record<string, { file: string }>;
  secrets: Record<string, { file: string }>;
};

const stackOf = (raw: Partial<Answers> = {}) => {
  const files = filesFor({ ...SWARM, ...raw });
  return { files, stack: load(files['stack.yaml']!) as Stack };
};

describe('stack.yaml places every member on its own host', () => {
  const { stack } = stackOf({ grafanaReplicas: 3, patroniNodes: 3, etcdMembers: 5 });
  const constraintOf = (s: string) => stack.services[s]?.deploy.placement.constraints ?? [];

  it.each([
    ['etcd', ['etcd-1', 'etcd-2', 'etcd-3', 'etcd-4', 'etcd-5']],
    ['postgres', ['pg-1', 'pg-2', 'pg-3']],
    ['grafana', ['grafana-1', 'grafana-2', 'grafana-3']],
  ])('each %s member runs one task, on the host whose one label of that role names it', (role, members) => {
    for (const member of members) {
      expect(constraintOf(member)).toEqual([`node.labels.grafana-ha.${role} == ${member}`]);
      expect(stack.services[member]?.deploy.replicas).toBe(1);
    }
  });

  it('the load balancer runs on every host labelled for it, its port published on that host (no routing mesh)', () => {
    const lb = stack.services.lb!;
    expect(lb.deploy.mode).toBe('global');
    expect(constraintOf('lb')).toEqual(['node.labels.grafana-ha.lb == true']);
    expect(lb.ports).toEqual([{ target: 8080, published: 8080, protocol: 'tcp', mode: 'host' }]);
  });

  it('the DB router names every node the stack can grow to (pg-1 … pg-9), in both of its listeners, so adding one never changes its config', () => {
    const router = stackOf().files['db-router/haproxy.cfg']!;
    const servers = (listen: string) =>
      [
        ...router
          .split(`listen ${listen}\n`)[1]!
          .split(/\n\n/)[0]!
          .matchAll(/^ +server (\S+) (\S+)$/gm),
      ].map((m) => `${m[1]} ${m[2]}`);
    const every = Array.from({ length: 9 }, (_, i) => `pg-${i + 1} pg-${i + 1}:5432`);
    expect({ primary: servers('primary'), replicas: servers('replicas') }).toEqual({ primary: every, replicas: every });
    expect(stackOf({ patroniNodes: 5 }).files['db-router/haproxy.cfg']).toBe(router);
  });

  it.each(['haproxy', 'nginx'] as const)(
    'the %s load balancer names every Grafana replica the stack can have, so adding one never changes its config',
    (loadBalancer) => {
      const config = loadBalancer === 'haproxy' ? 'lb/haproxy.cfg' : 'lb/nginx.conf';
      const lb = stackOf({ loadBalancer, grafanaReplicas: 2 }).files[config]!;
      const named = [...lb.matchAll(/^ +server (?:\S+ )?(grafana-\d+):3000\b/gm)].map((m) => m[1]);
      expect(named).toEqual(Array.from({ length: 9 }, (_, i) => `grafana-${i + 1}`));
      expect(stackOf({ loadBalancer, grafanaReplicas: 5 }).files[config]).toBe(lb);
    },
  );

  it('neither HAProxy config resolves its names with the system resolver at start (a missing one could hold it up for seconds each): its own resolvers fill them in', () => {
    const { files } = stackOf({ loadBalancer: 'haproxy' });
    for (const config of ['db-router/haproxy.cfg', 'lb/haproxy.cfg'])
      expect([config, [...new Set([...files[config]!.matchAll(/^ +(?:default-)?server .*(init-addr \S+)/gm)].map((m) => m[1]))]]).toEqual([
        config,
        ['init-addr none'],
      ]);
    // Compose names only members that exist: they resolve at once, before the first request.
    expect(filesFor({})['lb/haproxy.cfg']).toContain('init-addr last,libc,none');
  });

  it('the DB router, which keeps no data, runs twice, never twice on one host', () => {
    const router = stack.services['db-router']!;
    expect(router.deploy.replicas).toBe(DB_ROUTER_TASKS);
    expect(router.deploy.placement).toEqual({ max_replicas_per_node: 1 });
  });

  it('every service: names resolve to tasks (dnsrr), restarted whatever the exit, updated one task at a time and rolled back on failure', () => {
    for (const [name, s] of Object.entries(stack.services)) {
      expect([name, s.deploy.endpoint_mode, s.deploy.restart_policy.condition]).toEqual([name, 'dnsrr', 'any']);
      expect(s.deploy.update_config).toMatchObject({ parallelism: 1, failure_action: 'rollback', order: 'stop-first' });
    }
  });
});

describe('stack.yaml: health checks Swarm can act on', () => {
  const { stack } = stackOf();
  const testOf = (s: string) => stack.services[s]?.healthcheck?.test.join(' ') ?? '(none)';
  it('checks liveness, never readiness that fails during a failover (Swarm kills an unhealthy task)', () => {
    expect(testOf('pg-1')).toContain('/liveness');
    expect(testOf('grafana-1')).toContain('/healthz');
    expect(testOf('db-router')).toContain('GET /stats');
    expect(testOf('lb')).toContain('GET /healthz');
  });
  it('etcd has none: it answers nothing before it has a quorum, and its peers find it only once healthy', () => {
    expect(stack.services['etcd-1']?.healthcheck).toBeUndefined();
    // The Compose stack keeps its check: there, health is only reported.
    expect((composeObject(topologyFor({})).services['etcd-1'] as Service).healthcheck?.test).toContain('etcdctl');
  });
});

describe('stack.yaml: secrets and configs', () => {
  const { files, stack } = stackOf();

  it("each container gets its secrets owned by its image's user, 0400; the stack's secrets are the secrets/ files", () => {
    const owners = Object.fromEntries(
      Object.entries(stack.services)
        .filter(([, s]) => s.secrets)
        .map(([name, s]) => [name, [...new Set(s.secrets!.map((x) => `${x.uid}:${x.gid}:${x.mode.toString(8)}`))]]),
    );
    expect(owners).toEqual({
      'pg-1': ['999:999:400'],
      'pg-2': ['999:999:400'],
      'pg-3': ['999:999:400'],
      'grafana-1': ['472:0:400'],
      'grafana-2': ['472:0:400'],
    });
    for (const [name, s] of Object.entries(stack.secrets)) expect(s.file).toBe(`./secrets/${name}`);
  });

  it('every file a service reads is a config of the stack folder, at the path Compose mounts it', () => {
    // The same stack on Compose: without backups, as on Swarm.
    const compose = composeObject(topologyFor({ backups: 'none' })).services as Record<string, { volumes?: string[] }>;
    for (const [name, service] of Object.entries(stack.services)) {
      const mounted = (compose[name]?.volumes ?? []).filter((v) => v.startsWith('./')).map((v) => v.split(':').slice(0, 2));
      const configs = (service.configs ?? []).map((c) => [stack.configs[c.source]?.file, c.target]);
      expect([name, configs]).toEqual([name, mounted]);
      for (const [file] of configs) expect(files[file!.slice(2)]).toBeDefined();
    }
    expect(
      Object.values(stack.services)
        .flatMap((s) => s.volumes ?? [])
        .filter((v) => typeof v === 'string' && v.startsWith('./')),
    ).toEqual([]);
  });

  it('a config is named by its content: a changed grafana.ini gets a new name (Swarm rolls its users), the others keep theirs', () => {
    const other = stackOf({ publicUrl: 'https://grafana.example.com/' }).stack;
    const names = (s: Stack) => Object.entries(s.configs).map(([name, c]) => `${c.file} ${name}`);
    const changed = names(other).filter((n) => !names(stack).includes(n));
    expect(changed.map((n) => n.split(' ')[0])).toEqual(['./grafana/grafana.ini']);
  });

  it('Compose-only scripts are not in a swarm stack; the label script is', () => {
    expect(Object.keys(files).filter((p) => p.startsWith('scripts/'))).toEqual([LABEL_SCRIPT.path, WAIT_SCRIPT.path]);
    expect(files['compose.yaml']).toBeUndefined();
  });
});

describe('stack.yaml: networks and images', () => {
  it('overlays; app and db internal; app on the fixed subnet the Grafana replicas find their gossip address by', () => {
    const { stack } = stackOf();
    expect(stack.networks).toEqual({
      edge: { driver: 'overlay', driver_opts: { encrypted: '' } },
      app: { driver: 'overlay', internal: true, driver_opts: { encrypted: '' }, ipam: { config: [{ subnet: APP_SUBNET.cidr }] } },
      db: { driver: 'overlay', internal: true, driver_opts: { encrypted: '' } },
    });
    expect(stack.services['grafana-1']?.environment).toMatchObject({ GOSSIP_SUBNET_PREFIX: APP_SUBNET.prefix });
    expect(stack.services['grafana-1']?.environment?.GOSSIP_HOST).toBeUndefined();
  });

  it('--overlay-encryption false: plain overlays', () => {
    const { stack } = stackOf({ overlayEncryption: false });
    expect(Object.values(stack.networks).map((n) => n.driver_opts)).toEqual([undefined, undefined, undefined]);
  });

  it('the Patroni image is under the registry prefix, tagged by its build folder; official images stay as pinned unless mirrored', () => {
    const plain = stackOf().stack.services;
    expect(plain['pg-1']?.image).toMatch(/^registry\.example\.com:5000\/team\/grafana-ha-patroni:18-patroni[\d.]+-[0-9a-f]{10}$/);
    expect([plain['etcd-1']?.image, plain.lb?.image, plain['grafana-1']?.image]).toEqual([
      'gcr.io/etcd-development/etcd:v3.5.33',
      'haproxy:3.2.22',
      'grafana/grafana:13.2.3',
    ]);
    const mirrored = stackOf({ mirrorImages: true }).stack.services;
    expect([mirrored['etcd-1']?.image, mirrored.lb?.image, mirrored['grafana-1']?.image]).toEqual([
      'registry.example.com:5000/team/etcd-development/etcd:v3.5.33',
      'registry.example.com:5000/team/haproxy:3.2.22',
      'registry.example.com:5000/team/grafana/grafana:13.2.3',
    ]);
    // Another build (another PostgreSQL major) is another tag; more Grafana replicas are not.
    expect(stackOf({ postgresMajor: 17 }).stack.services['pg-1']?.image).not.toBe(plain['pg-1']?.image);
    expect(stackOf({ grafanaReplicas: 4 }).stack.services['pg-1']?.image).toBe(plain['pg-1']?.image);
  });
});

describe('swarm answers', () => {
  const problems = (raw: Record<string, unknown>, options: Record<string, unknown> = {}) => {
    try {
      validateAnswers(raw, { options });
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };
  it('swarm needs a registry prefix, in the form docker push takes', () => {
    expect(problems({ deployTarget: 'swarm' })).toEqual([
      expect.stringMatching(/^--image-registry \(imageRegistry\): is required for swarm/),
    ]);
    expect(problems({ deployTarget: 'swarm', imageRegistry: 'https://registry.example.com' })).toHaveLength(1);
    expect(problems({ deployTarget: 'swarm', imageRegistry: 'Registry.example.com/x' })).toHaveLength(1);
    expect(problems({ deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/a/b-c' })).toEqual([]);
  });
  it('a swarm stack whose public URL is this machine is warned: users reach it through the load balancers’ hosts', () => {
    expect(validateAnswers(SWARM).warnings).toEqual([
      expect.stringMatching(/^--public-url http:\/\/localhost:8080\/ is on this machine, but a swarm stack/),
      expect.stringMatching(/^No backups: on Swarm/),
    ]);
    expect(validateAnswers({ ...SWARM, publicUrl: 'https://grafana.example.com/' }).warnings).toEqual([
      expect.stringMatching(/^No backups: on Swarm/),
    ]);
  });
  it('a swarm option given for a compose stack is an error that names the target', () => {
    expect(problems({ imageRegistry: 'r.example.com' }, { imageRegistry: 'r.example.com' })).toEqual([
      '--image-registry: does not apply to this stack (--deploy-target compose); leave it out',
    ]);
  });
  it('a re-run cannot switch the deploy target: the data stays in the old engine’s volumes', () => {
    const plan = planChange(topologyFor({}), topologyFor(SWARM), []);
    expect(plan.refusals).toEqual([expect.stringMatching(/^--deploy-target compose → swarm: the volumes, and the data in them, stay/)]);
  });
  it('a re-run cannot switch overlay encryption in place: Swarm keeps an existing network as it is', () => {
    const plan = planChange(topologyFor(SWARM), topologyFor({ ...SWARM, overlayEncryption: false }), []);
    expect(plan.refusals).toEqual([
      expect.stringMatching(
        /^--overlay-encryption true → false: Swarm cannot change an existing overlay network.*`docker stack rm grafana-ha`/,
      ),
    ]);
  });
  it('a swarm re-run that needs a command inside the cluster (a new etcd member, settings kept in etcd) is refused, naming it', () => {
    const grow = planChange(topologyFor(SWARM), topologyFor({ ...SWARM, etcdMembers: 5 }), []);
    expect(grow.refusals).toEqual([
      expect.stringMatching(
        /^this change needs commands run inside the running cluster, .*`etcdctl member add etcd-4 --peer-urls=http:\/\/etcd-4:2380` before etcd-4 starts; `etcdctl member add etcd-5/,
      ),
    ]);
    const profile = planChange(topologyFor(SWARM), topologyFor({ ...SWARM, failoverProfile: 'upstream' }), []);
    expect(profile.refusals).toEqual([expect.stringMatching(/`patronictl edit-config --force -s ttl=30 /)]);
  });
});

describe('a shrink is refused with the steps to do by hand, written for the engine that runs the stack', () => {
  const shrink = (target: Partial<Answers>) =>
    planChange(topologyFor({ ...target, patroniNodes: 3, etcdMembers: 3 }), topologyFor({ ...target, patroniNodes: 2, etcdMembers: 1 }), [])
      .refusals;
  it('compose: docker compose exec and rm', () => {
    const [nodes, etcd] = shrink({});
    expect(nodes).toContain('check `docker compose exec pg-1 patronictl list`');
    expect(nodes).toContain('then `docker compose rm --stop --force pg-3`.');
    expect(etcd).toContain('`docker compose exec etcd-1 etcdctl member remove <ID>`');
  });
  it("swarm: docker exec on the member's host (a manager cannot reach it), docker service rm; no compose command", () => {
    const [nodes, etcd] = shrink(SWARM);
    const inTask = (service: string) => `docker exec "$(docker ps -q -f label=com.docker.swarm.service.name=grafana-ha_${service})"`;
    expect(nodes).toContain(`check \`${inTask('pg-1')} patronictl list\` on pg-1's host`);
    expect(nodes).toContain('then `docker service rm grafana-ha_pg-3`.');
    expect(etcd).toContain(`\`${inTask('etcd-1')} etcdctl member remove <ID>\` on etcd-1's host`);
    expect([nodes, etcd].join(' ')).not.toContain('docker compose');
  });
});

describe('a swarm re-run updates one service at a time, in a safe order', () => {
  // Each service deployed alone, then waited for until its update has completed (not only converged).
  const deployed = (service: string) => [
    `docker stack deploy --detach=false --quiet --with-registry-auth -c services/${service}.yaml grafana-ha`,
    `./scripts/swarm-wait.sh ${service}`,
  ];
  const LABEL_HOSTS = expect.stringMatching(/^\.\/scripts\/swarm-label-nodes\.sh /);
  const plan = (from: Partial<Answers>, to: Partial<Answers>) =>
    planChange(topologyFor({ ...SWARM, ...from }), topologyFor({ ...SWARM, ...to }), []);

  it('a new Grafana replica: its host labelled, it starts first, then the others (new alerting peers) one by one; the LB, which already names it, is left alone', () => {
    const p = plan({ grafanaReplicas: 2 }, { grafanaReplicas: 3 });
    expect(p.refusals).toEqual([]);
    expect(p.commands).toEqual([LABEL_HOSTS, ...deployed('grafana-3'), ...deployed('grafana-1'), ...deployed('grafana-2')]);
    expect(p.notes).toContain('grafana-3 need a host: join it to the swarm first; the label script places them on a free one.');
  });
  it('a new PostgreSQL node starts (and clones) first; the rest, the DB router too, is left alone', () => {
    const p = plan({ patroniNodes: 3 }, { patroniNodes: 4 });
    expect(p.refusals).toEqual([]);
    // The other nodes' definitions do not change (the same etcd, the same scope): they keep running.
    // The router already names pg-4 (it names every node the stack can have): replacing its task would cut Grafana's connections.
    expect(p.commands).toEqual([LABEL_HOSTS, ...deployed('pg-4')]);
  });
  it('fewer Grafana replicas: the others roll, then the removed one goes (the LB retries a connection it refuses elsewhere)', () => {
    const p = plan({ grafanaReplicas: 3 }, { grafanaReplicas: 2 });
    expect(p.commands).toEqual([...deployed('grafana-1'), ...deployed('grafana-2'), 'docker service rm grafana-ha_grafana-3']);
  });
  it('PostgreSQL nodes that all change (new etcd members in their config, forced past the refusal): one at a time, and the note says to make the last one the leader first', () => {
    const p = plan({}, { etcdMembers: 5 });
    const pgSteps = p.commands.filter((c) => / -c services\/pg-\d\.yaml /.test(c));
    expect(pgSteps).toEqual(['pg-1', 'pg-2', 'pg-3'].map((n) => deployed(n)[0]));
    expect(p.notes).toContainEqual(expect.stringContaining('make pg-3 the leader first: `patronictl switchover --candidate pg-3 --force`'));
  });
  it('the same answers again: nothing to apply', () => {
    expect(plan({}, {}).commands).toEqual([]);
  });
  it('each step deploys a stack file of that one service, with only the networks, volumes, configs and secrets it uses', () => {
    const { files, stack } = stackOf({ grafanaReplicas: 2 });
    const pg = load(files['services/pg-1.yaml']!) as Stack & { volumes: Record<string, unknown> };
    expect(Object.keys(pg.services)).toEqual(['pg-1']);
    expect(pg.services['pg-1']).toEqual(stack.services['pg-1']);
    expect(Object.keys(pg.networks)).toEqual(['db']);
    expect(Object.keys(pg.volumes)).toEqual(['pg-1-data']);
    expect(Object.keys(pg.configs).sort()).toEqual(pg.services['pg-1']!.configs!.map((c) => c.source).sort());
    expect(Object.keys(pg.secrets).sort()).toEqual(pg.services['pg-1']!.secrets!.map((c) => c.source).sort());
    // Its files are named from its own folder, one below the stack folder.
    for (const ref of [...Object.values(pg.configs), ...Object.values(pg.secrets)]) expect(ref.file).toMatch(/^\.\.\/[^.]/);
    const lb = load(files['services/lb.yaml']!) as Record<string, unknown>;
    expect(Object.keys(lb).sort()).toEqual(['configs', 'networks', 'services']);
    expect(
      Object.keys(files)
        .filter((f) => f.startsWith('services/'))
        .sort(),
    ).toEqual(
      Object.keys(stack.services)
        .map((s) => `services/${s}.yaml`)
        .sort(),
    );
  });
});

/**
 * A temporary folder holding a generated script and, first on PATH, a fake `docker` made of
 * `fakeDocker(dir)`'s shell lines; `run` runs the script there with `args`.
 */
function withFakeDocker(prefix: string, script: string, fakeDocker: (dir: string) => string[]) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'script.sh'), script);
  writeFileSync(join(dir, 'bin/docker'), `${['#!/bin/sh', ...fakeDocker(dir)].join('\n')}\n`);
  chmodSync(join(dir, 'bin/docker'), 0o755);
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync('sh', [join(dir, 'script.sh'), ...args], {
      encoding: 'utf8',
      env: { ...process.env, ...env, PATH: `${dir}/bin:${process.env.PATH}` },
      timeout: 60_000,
    });
  return { dir, run };
}

describe(`${LABEL_SCRIPT.path}, against a fake docker that records each call`, () => {
  /** Runs the generated script with `docker` answering from `labels` (host → label=value list). */
  function runLabelScript(hosts: string[], existing: Record<string, string[]> = {}) {
    // A swarm that remembers its labels (file "labels": host key value): node ls -q lists the hosts;
    // node inspect -f TEMPLATE HOST prints a host name or one label's value; node update --label-add sets one.
    const { dir, run: runScript } = withFakeDocker(
      'ggha-labels-',
      filesFor({ ...SWARM, grafanaReplicas: 3, etcdMembers: 3 })[LABEL_SCRIPT.path]!,
      (dir) => [
        `echo "$*" >> "${dir}/calls"`,
        'case "$1 $2" in',
        `  "node ls") echo "${[...new Set([...hosts, ...Object.keys(existing)])].join(' ')}" | tr ' ' '\\n' ;;`,
        '  "node inspect")',
        '    case "$4" in',
        '      *Hostname*) echo "$5" ;;',
        `      *) key=$(echo "$4" | sed 's/.*"\\(.*\\)".*/\\1/'); awk -v h="$5" -v k="$key" '$1 == h && $2 == k { v = $3 } END { print v }' "${dir}/labels" ;;`,
        '    esac ;;',
        `  "node update") kv=$4; echo "$5 \${kv%%=*} \${kv#*=}" >> "${dir}/labels" ;;`,
        'esac',
      ],
    );
    writeFileSync(
      join(dir, 'labels'),
      Object.entries(existing)
        .flatMap(([host, labels]) => labels.map((l) => `${host} ${l.replace('=', ' ')}\n`))
        .join(''),
    );
    const run = runScript(hosts);
    const calls = readFileSync(join(dir, 'calls'), 'utf8').split('\n');
    return { run, updates: calls.filter((c) => c.startsWith('node update')) };
  }

  it('member k of each role goes on the k-th host, the load balancer on the first two', () => {
    const { run, updates } = runLabelScript(['a', 'b', 'c']);
    expect(run.status).toBe(0);
    expect(updates.sort()).toEqual(
      [
        ...['etcd', 'postgres', 'grafana'].flatMap((role) =>
          ['a', 'b', 'c'].map((h, i) => `node update --label-add grafana-ha.${role}=${role === 'postgres' ? 'pg' : role}-${i + 1} ${h}`),
        ),
        'node update --label-add grafana-ha.lb=true a',
        'node update --label-add grafana-ha.lb=true b',
      ].sort(),
    );
  });

  it('a member that already has a host keeps it; with fewer hosts than members, the rest are left pending, and it fails naming them (their deploy would wait for ever)', () => {
    const { run, updates } = runLabelScript(['a', 'b'], { z: ['grafana-ha.etcd=etcd-1'] });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('no host for: pg-3 grafana-3; join more hosts to the swarm');
    expect(updates.some((u) => u.includes('etcd=etcd-1'))).toBe(false);
    expect(run.stdout).toContain('etcd-1: on z (kept)');
    expect(updates).toContain('node update --label-add grafana-ha.etcd=etcd-2 b');
    // etcd-3's host (the third) is not given: the next free one takes it. pg-3 finds none.
    expect(updates).toContain('node update --label-add grafana-ha.etcd=etcd-3 a');
    expect(run.stderr).toContain('pg-3: every host given already has a grafana-ha.postgres label');
  });

  it('never relabels a host that holds another member of the role: an added host shifts the list, the members stay', () => {
    // node-ab sorts between node-a and node-b: grafana-3, third in the list, would land on node-b, which holds grafana-2.
    const { run, updates } = runLabelScript(['node-a', 'node-ab', 'node-b'], {
      'node-a': ['grafana-ha.etcd=etcd-1', 'grafana-ha.postgres=pg-1', 'grafana-ha.grafana=grafana-1'],
      'node-b': ['grafana-ha.etcd=etcd-2', 'grafana-ha.postgres=pg-2', 'grafana-ha.grafana=grafana-2'],
    });
    expect(run.status).toBe(0);
    expect(updates.filter((u) => / node-(a|b)$/.test(u) && !u.includes('.lb='))).toEqual([]);
    expect(updates).toEqual(
      expect.arrayContaining([
        'node update --label-add grafana-ha.grafana=grafana-3 node-ab',
        'node update --label-add grafana-ha.etcd=etcd-3 node-ab',
        'node update --label-add grafana-ha.postgres=pg-3 node-ab',
      ]),
    );
  });
});

describe(`${WAIT_SCRIPT.path}, against a fake docker whose services converged, some still in their update`, () => {
  /**
   * Runs the generated script with `args`; each service runs all its tasks, and `docker service
   * inspect` answers its update states one call at a time (the last one from then on).
   */
  function runWaitScript(states: Record<string, string[]>, args: string[] = [], limitSeconds = 20) {
    const { dir, run: runScript } = withFakeDocker('ggha-wait-', filesFor(SWARM)[WAIT_SCRIPT.path]!, (dir) => [
      'case "$1 $2" in',
      `  "stack services") for f in "${dir}"/states-*; do [ ! -e "$f" ] || echo "\${f##*/states-} 1/1"; done ;;`,
      '  "service inspect") name=$5',
      `    n=$(cat "${dir}/n-$name" 2>/dev/null || echo 0); echo $((n + 1)) > "${dir}/n-$name"`,
      `    state=$(sed -n "$((n + 1))p" "${dir}/states-$name"); [ -n "$state" ] || state=$(tail -n 1 "${dir}/states-$name")`,
      '    echo "$state: update message" ;;',
      'esac',
    ]);
    for (const [service, sequence] of Object.entries(states))
      writeFileSync(join(dir, `states-grafana-ha_${service}`), sequence.join('\n') + '\n');
    const run = runScript(args, { SWARM_WAIT_SECONDS: String(limitSeconds) });
    const inspections = (service: string) => Number(readFileSync(join(dir, `n-grafana-ha_${service}`), 'utf8'));
    return { run, inspections };
  }

  it('waits while an update is in progress (the monitor period), and succeeds once it completed', () => {
    const { run, inspections } = runWaitScript({ 'grafana-1': ['updating', 'completed'], 'grafana-2': [''] });
    expect({ status: run.status, stdout: run.stdout.trim(), inspections: inspections('grafana-1') }).toEqual({
      status: 0,
      stdout: 'every service of grafana-ha runs all its tasks',
      inspections: 2,
    });
  });
  it('fails at once on a rolled-back update, naming the service', () => {
    const { run, inspections } = runWaitScript({ 'grafana-1': ['rollback_completed'] });
    expect({ status: run.status, inspections: inspections('grafana-1') }).toEqual({ status: 1, inspections: 1 });
    expect(run.stderr).toContain('grafana-ha_grafana-1 rollback_completed: update message');
  });
  it("given a service (a re-run's step), only that one's update counts: an older rollback elsewhere does not stop it", () => {
    const states = { 'grafana-1': ['rollback_completed'], 'grafana-2': ['updating', 'completed'] };
    const { run } = runWaitScript(states, ['grafana-2']);
    expect({ status: run.status, stdout: run.stdout.trim() }).toEqual({ status: 0, stdout: 'grafana-ha: grafana-2 runs all its tasks' });
    expect(runWaitScript(states).run.status).toBe(1);
  });
  it('gives up after its limit (SWARM_WAIT_SECONDS), naming the update still in progress', () => {
    const { run } = runWaitScript({ 'grafana-1': ['updating'] }, [], 1);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('grafana-ha_grafana-1 updating: update message');
  });
  it('never succeeds on no answer from the swarm', () => {
    const { run } = runWaitScript({}, [], 1);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('no answer from the swarm, or no service of grafana-ha yet');
  });
});
