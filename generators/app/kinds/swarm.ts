/**
 * Docker Swarm: the same services spread over several hosts, `docker stack deploy -c stack.yaml`.
 * The stack file is built from the Compose services, changed where Swarm differs:
 *
 * - placement: a volume stays on its host, so every service that keeps data (each etcd member,
 *   PostgreSQL node) and each Grafana replica is pinned to the one host that carries its label,
 *   `<project>.<role>=<service>`. A label key holds one value per host, so no host ever runs two
 *   members of one role. The load balancer runs on every host labelled `<project>.lb=true`.
 * - names: `endpoint_mode: dnsrr` everywhere. The load balancer and the DB router resolve each
 *   task's own address and health-check it themselves; a virtual IP (which needs IPVS) would hide
 *   the individual tasks from them.
 * - the stack folder's files are Swarm configs, named by their content, so a changed file rolls
 *   the services that use it; secrets are Swarm secrets, owned by the user that reads them, 0400.
 * - images: Swarm cannot build; the Patroni image is named under the registry prefix, tagged by
 *   its build folder's content, and the official images too when they are mirrored there.
 */
import { createHash } from 'node:crypto';
import { dump } from 'js-yaml';
import { renderTemplate } from '../render/templates.js';
import { script, STACK_FILES, type GeneratedFile } from '../stack-files.js';
import { NETWORKS } from '../networks.js';
import { buildsImages, composeObject } from '../render/compose.js';
import { GRAFANA_REPLICAS_MAX, grafanaReplica, type Topology } from '../topology.js';
import { numbered } from '../numbered.js';
import type { HostBoundRole } from './database-mode.js';
import type { DeployTargetSpec, StackInputs } from './deploy-target.js';
import { LOAD_BALANCERS, modeOf } from './registry.js';
import { dbRouterConfig, PATRONI_FILES, PATRONI_NODES_MAX, patroniNodeName } from './patroni.js';

const STACK_FILE = 'stack.yaml';
/**
 * Each service's own stack file: the service and the networks, configs, secrets and volumes it uses.
 * Deployed alone, without --prune, it updates that one service and leaves the others as they are:
 * the steps of a re-run, one service at a time.
 */
export const serviceStackFile = (service: string) => `services/${service}.yaml`;
/** Labels the swarm's hosts for the stack's placement: `./scripts/swarm-label-nodes.sh HOST...`. */
export const LABEL_SCRIPT = script('scripts/swarm-label-nodes.sh');
/** Waits until services run all their tasks, none in an update: `./scripts/swarm-wait.sh [SERVICE...]`. */
export const WAIT_SCRIPT = script('scripts/swarm-wait.sh');
/** How long a first deploy may take, by default: images pulled on every host, Patroni bootstrapped. */
const WAIT_LIMIT_S = 600;
/** The load balancer runs on this many hosts (the first ones labelled): two, so one can be lost. */
export const LB_HOSTS = 2;

/** Files that drive `docker compose exec` on one host: they have no meaning on a swarm. */
const COMPOSE_ONLY_FILES: readonly string[] = [
  STACK_FILES.lbRotation.path,
  PATRONI_FILES.etcdAddMember.path,
  PATRONI_FILES.rollingRestart.path,
  PATRONI_FILES.upgradeMajor.path,
  PATRONI_FILES.failoverDrill.path,
];

export type SwarmRole = HostBoundRole | 'grafana';

/** The node label that places a service: `<project>.<role>`; its value is the service's name. */
export const nodeLabel = (t: Topology, role: SwarmRole | 'lb') => `${t.project}.${role}`;

/** Who reads the secrets in each role's containers (the images' own users). */
const SECRET_READERS: Record<SwarmRole, { uid: string; gid: string }> = {
  grafana: { uid: '472', gid: '0' },
  postgres: { uid: '999', gid: '999' },
  etcd: { uid: '0', gid: '0' },
};

/**
 * The internal `app` network's subnet: fixed, because a Grafana replica finds its own gossip address
 * on `app` by it (its DNS name there appears only once it is healthy). Internal: nothing is routed
 * to it from outside, so it only has to differ from the stack's other networks and the hosts' own.
 */
export const APP_SUBNET = { cidr: '10.253.250.0/24', prefix: '10.253.250.' } as const;

/** How long Swarm watches an updated task, once healthy, before it counts the update a success. */
const UPDATE_MONITOR_S = 15;

/** How many DB router tasks run, on different hosts: one lost host leaves Grafana a route. */
export const DB_ROUTER_TASKS = 2;

const hash = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

/** `gcr.io/etcd-development/etcd:v3.5.33` under `registry/prefix`: its own registry host dropped. */
export const mirrored = (registry: string, image: string) => {
  const [first, ...rest] = image.split('/');
  const withoutHost = rest.length > 0 && first !== undefined && /[.:]/.test(first) ? rest.join('/') : image;
  return `${registry}/${withoutHost}`;
};

/** The Patroni nodes' image: tagged by what it is built from, so that a changed build rolls the nodes. */
export function patroniImage(t: Topology, files: GeneratedFile[]): string {
  const folder = `${PATRONI_FILES.image.path}/`;
  const build = files
    .filter((f) => f.path.startsWith(folder))
    .map((f) => `${f.path}\n${f.contents}`)
    .sort()
    .join('\n');
  const db = t.database;
  const version = db.mode === 'patroni' ? `${db.patroni.postgresMajor}-patroni${db.patroni.version}` : 'none';
  return `${t.answers.imageRegistry}/${t.project}-patroni:${version}-${hash(build, 10)}`;
}

/** The official images the stack runs, each once. */
const officialImages = (t: Topology) =>
  [...new Set(Object.values(composeObject(t).services as Record<string, Service>).map((s) => s.image))].filter(
    (i): i is string => i !== undefined,
  );

/** Swarm's names for configs and secrets are at most 64 characters, the stack's prefix included. */
const configKey = (file: GeneratedFile) =>
  `${file.path
    .split('/')
    .pop()!
    .replace(/[^A-Za-z0-9]+/g, '-')
    .slice(0, 20)}-${hash(`${file.path}\n${file.contents}`, 10)}`;

/** `256m` → bytes, for the tmpfs that stands in for Compose's shm_size. */
const bytes = (size: string) => Number.parseInt(size, 10) * 1024 ** ({ k: 1, m: 2, g: 3 }[size.slice(-1)] ?? 0);

type Service = Record<string, unknown> & {
  image?: string;
  build?: unknown;
  volumes?: string[];
  secrets?: string[];
  shm_size?: string;
  deploy?: { resources?: unknown };
};

/** The image the stack builds (the Patroni nodes'), if it builds one. */
const builtImage = (t: Topology, files: GeneratedFile[]) => (buildsImages(composeObject(t)) ? patroniImage(t, files) : undefined);

/** Built on a machine with the stack folder, pushed to the registry every node pulls from. */
const imageCommands = (t: Topology, files: GeneratedFile[]) => {
  const image = builtImage(t, files);
  return image ? [`docker build -t ${image} ${PATRONI_FILES.image.path}`, `docker push ${image}`] : [];
};

/**
 * Detached: Docker's own wait (--detach=false) verifies one service after another, several seconds
 * each even when nothing changed; the wait script watches them all at once. --prune: a service the
 * stack no longer has (a removed Grafana replica) is removed. --with-registry-auth: the nodes pull
 * with this manager's registry login, if the registry needs one.
 */
const deployCommand = (t: Topology) => `docker stack deploy --detach=true --prune --with-registry-auth -c ${STACK_FILE} ${t.project}`;

/**
 * One service updated alone. Not detached: Docker's own wait follows this one service until its new
 * task is healthy, and fails (exit 1) on a rollback. It returns just before Swarm ends the update's
 * monitor period (seen on the test swarm), so the plan runs the wait script after it, which waits
 * until no update is in progress: a task that fails during that period is rolled back before the
 * next service is touched.
 */
export const serviceDeployCommand = (project: string, service: string) =>
  `docker stack deploy --detach=false --quiet --with-registry-auth -c ${serviceStackFile(service)} ${project}`;

/** `docker exec` into a service's task, run on the host that runs it (the README says which host). */
const onItsHost = (t: Topology, service: string) =>
  `docker exec "$(docker ps -q -f label=com.docker.swarm.service.name=${t.project}_${service})"`;

/** The wait script for one service: until its update has ended. */
const waitCommand = (service: string) => `${WAIT_SCRIPT.command} ${service}`;

const labelCommand = `${LABEL_SCRIPT.command} $(docker node ls --format '{{.Hostname}}')`;

/** Every node label the stack's placement reads, with the service it places (the lb label: every LB host). */
export function nodeLabels(t: Topology): { label: string; value: string; service: string; what: string }[] {
  const hostBound = modeOf(t.database).hostBound(t.database);
  const what: Record<SwarmRole, string> = { etcd: 'etcd member', postgres: 'PostgreSQL node', grafana: 'Grafana replica, stateless' };
  return [
    ...Object.entries(hostBound).map(([service, role]) => ({ label: nodeLabel(t, role), value: service, service, what: what[role] })),
    ...t.grafana.replicas.map((r) => ({ label: nodeLabel(t, 'grafana'), value: r.name, service: r.name, what: what.grafana })),
    {
      label: nodeLabel(t, 'lb'),
      value: 'true',
      service: t.loadBalancer.name,
      what: `${LOAD_BALANCERS[t.loadBalancer.kind].product} in front of Grafana, port ${t.loadBalancer.publishedPort} published on its host (host mode)`,
    },
  ];
}

function labelScript(t: Topology): GeneratedFile {
  const labels = nodeLabels(t).filter((l) => l.service !== t.loadBalancer.name);
  // The k-th member of each role: its number in the role's own list.
  const members = labels.map((l) => ({ ...l, index: labels.filter((o) => o.label === l.label).indexOf(l) + 1 }));
  return {
    path: LABEL_SCRIPT.path,
    mode: 0o755,
    contents: renderTemplate('swarm/label-nodes.sh', {
      script: LABEL_SCRIPT.command,
      members,
      firstHostHolds: members
        .filter((m) => m.index === 1)
        .map((m) => m.value)
        .join(', '),
      lbHosts: LB_HOSTS,
      lbLabel: nodeLabel(t, 'lb'),
      lb: t.loadBalancer.name,
    }),
  };
}

/**
 * Compose keys Swarm has no use for: it restarts by its restart_policy, has no start order, and
 * ignores security_opt (the README: the engines' no-new-privileges). shm_size becomes a tmpfs.
 */
const COMPOSE_ONLY_KEYS = ['restart', 'depends_on', 'security_opt'];

/** The conventional order of a service's keys (dclint's service-keys-order), as compose.yaml has them. */
const KEY_ORDER = [
  'image',
  'entrypoint',
  'command',
  'environment',
  'volumes',
  'configs',
  'secrets',
  'networks',
  'ports',
  'healthcheck',
  'cap_add',
  'cap_drop',
  'stop_grace_period',
  'stop_signal',
  'deploy',
];
function inComposeOrder(service: Record<string, unknown>): Record<string, unknown> {
  const unknown = Object.keys(service).filter((k) => !KEY_ORDER.includes(k));
  if (unknown.length > 0) throw new Error(`swarm: no place for the service keys ${unknown.join(', ')}`);
  return Object.fromEntries(KEY_ORDER.filter((k) => k in service).map((k) => [k, service[k]]));
}

export function swarmStackObject(t: Topology, files: GeneratedFile[]) {
  const compose = composeObject(t);
  const { answers } = t;
  const byPath = new Map(files.map((f) => [f.path, f]));
  const configs: Record<string, { file: string }> = {};
  const hostBound = modeOf(t.database).hostBound(t.database);
  const livenessChecks: Record<string, string[] | null | undefined> = {
    ...modeOf(t.database).livenessChecks(t.database),
    // /healthz, not /api/health: that one fails on every replica at once while the database fails over.
    ...Object.fromEntries(
      t.grafana.replicas.map((r) => [r.name, ['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${r.httpPort}/healthz`]]),
    ),
  };
  const roleOf = (name: string): SwarmRole | undefined =>
    hostBound[name] ?? (t.grafana.replicas.some((r) => r.name === name) ? 'grafana' : undefined);
  const image = (name: string) => (answers.mirrorImages ? mirrored(answers.imageRegistry, name) : name);

  const services: Record<string, unknown> = {};
  for (const [name, definition] of Object.entries(compose.services as Record<string, Service>)) {
    const { build, shm_size, volumes = [], secrets, healthcheck, ...rest } = definition;
    const kept = Object.fromEntries(Object.entries(rest).filter(([key]) => !COMPOSE_ONLY_KEYS.includes(key))) as Service;
    const role = roleOf(name);
    const mounts: unknown[] = [];
    const serviceConfigs: unknown[] = [];
    for (const volume of volumes) {
      const [source = '', target = ''] = volume.split(':');
      if (!source.startsWith('./')) {
        mounts.push(volume);
        continue;
      }
      const file = byPath.get(source.slice(2));
      if (!file) throw new Error(`${name} mounts ${source}, which the stack does not generate`);
      const key = configKey(file);
      configs[key] = { file: source };
      serviceConfigs.push({ source: key, target, mode: 0o444 });
    }
    if (shm_size) mounts.push({ type: 'tmpfs', target: '/dev/shm', tmpfs: { size: bytes(shm_size) } });

    const isLb = name === t.loadBalancer.name;
    const placement = isLb
      ? { constraints: [`node.labels.${nodeLabel(t, 'lb')} == true`] }
      : role
        ? { constraints: [`node.labels.${nodeLabel(t, role)} == ${name}`] }
        : { max_replicas_per_node: 1 };
    const reader = role ? SECRET_READERS[role] : undefined;
    if (secrets?.length && !reader) throw new Error(`${name} reads secrets, but no reader uid is known for it`);

    const test = livenessChecks[name];
    // A replica finds its gossip address by the app network's subnet, not by its name there.
    const environment =
      role === 'grafana'
        ? {
            ...Object.fromEntries(Object.entries(kept.environment as Record<string, string>).filter(([k]) => k !== 'GOSSIP_HOST')),
            GOSSIP_SUBNET_PREFIX: APP_SUBNET.prefix,
          }
        : kept.environment;
    const check = test === null ? undefined : test ? { ...(healthcheck as object), test } : healthcheck;
    services[name] = inComposeOrder({
      ...kept,
      ...(check ? { healthcheck: check } : {}),
      ...(environment ? { environment } : {}),
      image: build ? patroniImage(t, files) : image(kept.image ?? ''),
      ...(mounts.length ? { volumes: mounts } : {}),
      ...(serviceConfigs.length ? { configs: serviceConfigs } : {}),
      ...(secrets?.length ? { secrets: secrets.map((source) => ({ source, target: source, ...reader, mode: 0o400 })) } : {}),
      ...(isLb
        ? {
            // Host mode: each host's own load balancer answers on it; no routing mesh (and no IPVS) in between.
            ports: [{ target: t.loadBalancer.listenPort, published: t.loadBalancer.publishedPort, protocol: 'tcp', mode: 'host' }],
          }
        : {}),
      deploy: {
        ...(isLb ? { mode: 'global' } : { replicas: role ? 1 : DB_ROUTER_TASKS }),
        endpoint_mode: 'dnsrr',
        placement,
        ...definition.deploy,
        restart_policy: { condition: 'any', delay: '5s' },
        // One task at a time, stopped before its replacement starts (a volume, or a host port, is
        // never shared by two tasks); a replacement that fails its health check is rolled back.
        // A task counts as started only once healthy; the monitor period then watches it a little
        // longer for a crash (and is how long each step of a re-run waits after its service).
        update_config: { parallelism: 1, delay: '5s', order: 'stop-first', failure_action: 'rollback', monitor: `${UPDATE_MONITOR_S}s` },
        rollback_config: { parallelism: 1, order: 'stop-first' },
      },
    });
  }

  const encrypted = answers.overlayEncryption ? { driver_opts: { encrypted: '' } } : {};
  const networks = Object.fromEntries(
    Object.entries(compose.networks).map(([name, n]) => [
      name,
      { driver: 'overlay', ...n, ...encrypted, ...(name === NETWORKS.app ? { ipam: { config: [{ subnet: APP_SUBNET.cidr }] } } : {}) },
    ]),
  );
  return {
    services,
    networks,
    volumes: compose.volumes,
    configs,
    secrets: compose.secrets,
  };
}

type SwarmStack = ReturnType<typeof swarmStackObject>;
type SwarmService = {
  networks?: string[] | Record<string, unknown>;
  volumes?: unknown[];
  configs?: { source: string }[];
  secrets?: { source: string }[];
};

/** `stack` cut down to one service and the networks, volumes, configs and secrets it uses. */
function oneServiceStack(stack: SwarmStack, name: string) {
  const service = stack.services[name] as SwarmService;
  const pick = <V>(all: Record<string, V>, keys: string[]) => {
    const kept = Object.fromEntries(Object.entries(all).filter(([key]) => keys.includes(key)));
    return Object.keys(kept).length > 0 ? kept : undefined;
  };
  const networks = Array.isArray(service.networks) ? service.networks : Object.keys(service.networks ?? {});
  const volumes = (service.volumes ?? []).filter((v): v is string => typeof v === 'string').map((v) => v.split(':')[0] ?? '');
  // Relative paths are read from the file's own folder, one below the stack folder.
  const fromSubfolder = <V extends { file: string }>(all: Record<string, V> | undefined) =>
    all && Object.fromEntries(Object.entries(all).map(([k, v]) => [k, { ...v, file: v.file.replace(/^\.\//, '../') }]));
  return Object.fromEntries(
    Object.entries({
      services: { [name]: service },
      networks: pick(stack.networks, networks),
      volumes: pick(stack.volumes, volumes),
      configs: fromSubfolder(
        pick(
          stack.configs,
          (service.configs ?? []).map((c) => c.source),
        ),
      ),
      secrets: fromSubfolder(
        pick(
          stack.secrets,
          (service.secrets ?? []).map((c) => c.source),
        ),
      ),
    }).filter(([, section]) => section !== undefined),
  );
}

const yaml = (data: unknown) => dump(data, { noRefs: true, lineWidth: -1 });

/**
 * The order a re-run updates services in, one at a time: the database tier first (etcd members,
 * then PostgreSQL nodes, new ones first: they clone while the others serve), then the DB router,
 * then the new Grafana replicas, then the load balancer (so that it spreads requests over the new
 * replicas too), then the other replicas; anything else last.
 */
function updateOrder(t: Topology, services: string[], added: string[]): string[] {
  const hostBound = modeOf(t.database).hostBound(t.database);
  const rank = (service: string) => {
    const role = hostBound[service];
    if (role === 'etcd') return 0;
    if (role === 'postgres') return added.includes(service) ? 1 : 2;
    if (t.grafana.replicas.some((r) => r.name === service)) return added.includes(service) ? 4 : 6;
    if (service === t.loadBalancer.name) return 5;
    return modeOf(t.database).serviceNames(t.database).includes(service) ? 3 : 7;
  };
  return [...services].sort((a, b) => rank(a) - rank(b));
}

/**
 * A re-run on a swarm: each new or changed service deployed alone, in a safe order, and waited for
 * until its update has ended (a plain `docker stack deploy` would update every changed service at
 * the same time); then the services the stack no longer has removed. Unchanged services are not
 * touched (a whole-stack deploy would look up every image's digest again and update any re-pushed tag).
 */
function planSwarmRerun(before: StackInputs, after: StackInputs, notes: string[]): string[] {
  const was = swarmStackObject(before.t, withRoomToGrow(before.t, before.files)).services as Record<string, unknown>;
  const now = swarmStackObject(after.t, withRoomToGrow(after.t, after.files)).services as Record<string, unknown>;
  const added = Object.keys(now).filter((s) => !(s in was));
  const changed = Object.keys(now).filter((s) => s in was && JSON.stringify(was[s]) !== JSON.stringify(now[s]));
  const removed = Object.keys(was).filter((s) => !(s in now));
  if (added.length + changed.length + removed.length === 0) return [];
  const t = after.t;
  const steps = updateOrder(t, [...added, ...changed], added);
  const hostBound = modeOf(t.database).hostBound(t.database);
  const placed = added.filter((s) => s in hostBound || t.grafana.replicas.some((r) => r.name === s));
  const image = builtImage(t, after.files);
  const postgres = steps.filter((s) => hostBound[s] === 'postgres' && !added.includes(s));
  const last = postgres[postgres.length - 1];
  if (postgres.length > 1 && last) {
    notes.push(
      `${postgres.join(', ')} are updated one at a time, in this order; the leader's restart is a failover. To keep it to one, make ${last} the leader first: \`patronictl switchover --candidate ${last} --force\` in a node (\`docker exec\`, on its host; \`patronictl list\` shows the leader; with synchronous replication the candidate must be a synchronous standby).`,
    );
  }
  if (placed.length > 0)
    notes.push(`${placed.join(', ')} need a host: join it to the swarm first; the label script places them on a free one.`);
  return [
    ...(placed.length > 0 ? [labelCommand] : []),
    ...(image && image !== builtImage(before.t, before.files) ? imageCommands(t, after.files) : []),
    ...steps.flatMap((s) => [serviceDeployCommand(t.project, s), waitCommand(s)]),
    ...(removed.length > 0 ? [`docker service rm ${removed.map((s) => `${t.project}_${s}`).join(' ')}`] : []),
  ];
}

/**
 * A Swarm config cannot change: a new config is a new task, and stopping the old one cuts what
 * runs through it (Grafana's database connections through a DB router task, a query in flight too;
 * connections a load balancer task had accepted but not read yet). So on Swarm the DB router and
 * the load balancer name every member the stack can grow to (pg-1 … pg-9, grafana-1 … grafana-9):
 * a name with no service yet does not resolve and stays in MAINT (HAProxy) or without an address
 * (nginx), and adding a member leaves both running: they resolve the new name themselves.
 */
function withRoomToGrow(t: Topology, files: GeneratedFile[]): GeneratedFile[] {
  const db = t.database;
  const router = db.mode === 'patroni' ? [dbRouterConfig(db, numbered(PATRONI_NODES_MAX, patroniNodeName), 'may-be-missing')] : [];
  const lb = LOAD_BALANCERS[t.loadBalancer.kind];
  const everyReplica = { ...t, grafana: { ...t.grafana, replicas: numbered(GRAFANA_REPLICAS_MAX, grafanaReplica) } };
  const lbConfig = lb.files(everyReplica, 'may-be-missing').filter((f) => f.path === lb.config.path);
  const grown = [...router, ...lbConfig];
  return files.map((f) => grown.find((g) => g.path === f.path) ?? f);
}

export const swarm: DeployTargetSpec = {
  summary: 'several hosts, Docker Swarm',
  choiceHelp: 'several Docker hosts in one swarm: docker stack deploy',
  asks: ['imageRegistry', 'mirrorImages', 'overlayEncryption'],
  files: (t, generated) => {
    const others = withRoomToGrow(t, generated);
    const stack = swarmStackObject(t, others);
    return [
      { path: STACK_FILE, contents: yaml(stack) },
      ...Object.keys(stack.services).map((service) => ({
        path: serviceStackFile(service),
        contents: yaml(oneServiceStack(stack, service)),
      })),
      ...others.filter((f) => !COMPOSE_ONLY_FILES.includes(f.path)),
      labelScript(t),
      {
        path: WAIT_SCRIPT.path,
        mode: 0o755,
        contents: renderTemplate('swarm/wait.sh', { project: t.project, script: WAIT_SCRIPT.command, limitSeconds: WAIT_LIMIT_S }),
      },
    ];
  },
  // Swarm hands each container its secrets with the owner and mode the stack file gives them.
  secretFileMode: 0o600,
  firstStartCommands: (t, files) => [labelCommand, ...imageCommands(t, files), deployCommand(t), WAIT_SCRIPT.command],
  planRerun: planSwarmRerun,
  refusals: (was, now) =>
    was.overlayEncryption === now.overlayEncryption
      ? []
      : [
          `--overlay-encryption ${was.overlayEncryption} → ${now.overlayEncryption}: Swarm cannot change an existing overlay network, and \`docker stack deploy\` leaves it as it is. Applying it stops the whole stack: re-run with --force, \`docker stack rm ${now.projectName}\` (the volumes stay on their hosts), wait until \`docker network ls\` lists none of its networks, then deploy it again as README.md shows.`,
        ],
  // A manager cannot exec into a task on another host: the step runs on the task's host.
  handSteps: (t) => ({
    inService: (service, command) => `\`${onItsHost(t, service)} ${command}\` on ${service}'s host`,
    remove: (services) => `\`docker service rm ${services.map((s) => `${t.project}_${s}`).join(' ')}\``,
  }),
  readme: 'stack/README-swarm.md',
  readmePartials: false,
  readmeFacts: (t, files) => ({
    stackFile: STACK_FILE,
    serviceStackFile,
    updateMonitorSeconds: UPDATE_MONITOR_S,
    imageFolder: PATRONI_FILES.image.path,
    /** The repository the Patroni image is pushed to (its tag follows the build folder). */
    patroniRepository: builtImage(t, files)?.replace(/:[^:/]+$/, ''),
    imageCommands: imageCommands(t, files),
    deployCommand: deployCommand(t),
    waitCommand: WAIT_SCRIPT.command,
    labelCommand,
    labelScript: LABEL_SCRIPT.command,
    labels: nodeLabels(t),
    postgresLabel: nodeLabel(t, 'postgres'),
    lbHosts: LB_HOSTS,
    dbRouterTasks: DB_ROUTER_TASKS,
    mirroredImages: t.answers.mirrorImages ? officialImages(t).map((from) => ({ from, to: mirrored(t.answers.imageRegistry, from) })) : [],
    /** `docker exec` into a service's task on this host (the README says which host). */
    onItsHost: (service: string) => onItsHost(t, service),
  }),
};
