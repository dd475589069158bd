/**
 * The multi-node test bed the Swarm target runs on: three real Docker Engines, each in a network
 * namespace of its own, form a swarm of three managers; a local registry hands images to the nodes;
 * overlay networks span them. What the Swarm target relies on is checked here, on the engines
 * themselves: image distribution, DNS round robin across nodes (this kernel has no IPVS for VIPs),
 * host-mode published ports, and the swarm surviving the loss of one manager.
 */
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { labUnavailableReason } from '../../lab/stack-lab.js';
import { waitFor } from '../../lab/shell.js';
import { SwarmLab } from '../../lab/swarm.js';

const unavailable = labUnavailableReason();
const describeLab = unavailable ? describe.skip : describe;
jest.setTimeout(180_000);

/** The nginx stand-in has curl and getent; each task of the probe service answers with its host name. */
const PROBE_IMAGE = 'nginxinc/nginx-unprivileged:1.30.4';
const ANSWER_WITH_HOSTNAME = [
  'sh',
  '-c',
  'printf "pid /tmp/n.pid; events {} http { client_body_temp_path /tmp/cb; proxy_temp_path /tmp/p; fastcgi_temp_path /tmp/f; ' +
    'uwsgi_temp_path /tmp/u; scgi_temp_path /tmp/s; access_log off; server { listen 8080; location / { return 200 \\"%s\\\\n\\"; } } }" ' +
    '"$(hostname)" > /tmp/n.conf && exec nginx -c /tmp/n.conf -g "daemon off;"',
];

describeLab('a three-node swarm on this machine', () => {
  let swarm: SwarmLab;
  let image: string;
  beforeAll(async () => {
    swarm = await SwarmLab.start(3);
    image = await swarm.push(PROBE_IMAGE, 'probe:1');
  }, 900_000); // includes waiting for the lab lock
  afterAll(() => swarm?.destroy());

  const tasks = async (service: string) =>
    (await swarm.dockerOk(1, ['service', 'ps', service, '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}']))
      .trim()
      .split('\n')
      .filter((l) => /Running/.test(l));

  test('three engines in namespaces of their own are one swarm of three managers, all Ready', async () => {
    await swarm.waitAllReady();
    const states = await swarm.nodeStates();
    expect(Object.keys(states).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(Object.values(states).filter((s) => s.manager === 'Leader')).toHaveLength(1);
  });

  test('an image pushed to the local registry runs on every node, one task each, each answering on its host-mode port', async () => {
    await swarm.dockerOk(1, ['network', 'create', '--driver', 'overlay', '--attachable', 'probe-net']);
    await swarm.dockerOk(1, [
      'service',
      'create',
      '--detach',
      '--name',
      'web',
      '--replicas',
      '3',
      '--replicas-max-per-node',
      '1',
      '--endpoint-mode',
      'dnsrr',
      '--network',
      'probe-net',
      '--publish',
      'mode=host,target=8080,published=18080',
      image,
      ...ANSWER_WITH_HOSTNAME,
    ]);
    const running = await waitFor(
      'three web tasks running',
      async () => {
        const running = await tasks('web');
        return running.length === 3 ? running : undefined;
      },
      120_000,
      1000,
    );
    expect(new Set(running.map((l) => l.split(' ')[0]))).toEqual(new Set(['node1', 'node2', 'node3']));
    // Each node's published port is its own task (host mode, no routing mesh): three different answers.
    const answers = await Promise.all(
      [1, 2, 3].map(async (i) =>
        (await (await fetch(`http://${swarm.nodeIp(i)}:18080/`, { signal: AbortSignal.timeout(5000) })).text()).trim(),
      ),
    );
    expect(new Set(answers).size).toBe(3);
  });

  test('over the overlay network, a container on node 1 finds every task by DNS round robin (tasks.web) and reaches each on another node', async () => {
    const script = 'for ip in $(getent ahostsv4 tasks.web | cut -d" " -f1 | sort -u); do curl -s --max-time 3 http://$ip:8080/; done';
    const out = await swarm.dockerOk(1, ['run', '--rm', '--network', 'probe-net', image, 'sh', '-c', script]);
    // Three addresses, each a different task answering with its own host name.
    expect(new Set(out.trim().split('\n').filter(Boolean)).size).toBe(3);
  });

  test('one manager of three cut off: the other two still change the swarm (quorum), and the lost one is Ready again once its link is back', async () => {
    swarm.cut(3);
    try {
      await waitFor(
        'node3 Down, seen from node1',
        async () => (await swarm.nodeStates(1)).node3?.status === 'Down' || undefined,
        90_000,
        1000,
      );
      await swarm.dockerOk(1, ['service', 'update', '--detach', '--env-add', 'PROBE=after-cut', 'web']);
      const spec = await swarm.dockerOk(2, ['service', 'inspect', 'web', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}']);
      expect(spec).toContain('PROBE=after-cut');
    } finally {
      swarm.heal(3);
    }
    await swarm.waitAllReady(1, 120_000);
  });

  test('a node whose engine and containers are all SIGKILLed is Down to the others; started again, it rejoins with its state', async () => {
    swarm.kill(2);
    await waitFor(
      'node2 Down, seen from node1',
      async () => (await swarm.nodeStates(1)).node2?.status === 'Down' || undefined,
      90_000,
      1000,
    );
    swarm.restart(2);
    await swarm.waitAllReady(1, 120_000);
    await waitFor('three web tasks running again', async () => (await tasks('web')).length === 3 || undefined, 120_000, 1000);
  });
});
