/** What the generated files say, parsed back with the same libraries that wrote them. */
import { parse } from 'ini';
import { load } from 'js-yaml';
import { IMAGES, PATRONI_VERSION, POSTGRES_IMAGES } from '../generators/app/catalog.js';
import { patroniTimingProblems } from '../generators/app/failover-profiles.js';
import type { Answers } from '../generators/app/questions.js';
import { GRAFANA_CONN_MAX_LIFETIME_S } from '../generators/app/render/grafana-ini.js';
import { PATRONI_FILES, type PatroniCluster } from '../generators/app/kinds/patroni.js';
import { renderStack } from '../generators/app/render/index.js';
import { serviceNames, type Topology } from '../generators/app/topology.js';
import { ANSWER_MATRIX, filesFor, SWARM_CELLS, TEST_CA_FILE, topologyFor } from './helpers/stack.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: unknown[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  /** A list, or a map when a network gives the service aliases. */
  networks: string[] | Record<string, { aliases?: string[] }>;
  secrets?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  stop_grace_period?: string;
  container_name?: string;
  volumes?: string[];
  cap_drop?: string[];
  cap_add?: string[];
}
interface Compose {
  name: string;
  version?: string;
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean }>;
  secrets: Record<string, { file: string }>;
}

const EXTERNAL = { dbMode: 'external', dbHost: 'pg.example.com' } as const;
const MATRIX = ANSWER_MATRIX;

/** One cell per kind (haproxy + patroni, nginx + single, external): their files in full. */
const ONE_CELL_PER_KIND: Partial<Answers>[] = [{}, { loadBalancer: 'nginx', dbMode: 'single' }, EXTERNAL, SWARM_CELLS[0]!];

describe('snapshots', () => {
  it('writes, for every cell of the answer matrix, the files (path and mode) the snapshot lists', () => {
    const lists = MATRIX.map((raw) => [
      JSON.stringify(raw),
      renderStack(topologyFor(raw)).map((f) => `${f.path} ${(f.mode ?? 0o644).toString(8)}`),
    ]);
    expect(Object.fromEntries(lists)).toMatchSnapshot();
  });

  it.each(ONE_CELL_PER_KIND)('writes for %j the contents the snapshot holds', (raw) => {
    expect(filesFor(raw)).toMatchSnapshot();
  });
});

/** Only the Patroni topology, or a test failure saying the stack is not one. */
function patroniOf(t: Topology): PatroniCluster {
  if (t.database.mode !== 'patroni') throw new Error(`not a Patroni stack: ${t.database.mode}`);
  return t.database;
}

describe.each(MATRIX)('stack for %j', (raw) => {
  const files = filesFor(raw);
  const t = topologyFor(raw);
  const compose = load(files['compose.yaml']) as Compose;
  /** Registered for Patroni stacks only. */
  const itWithPatroni = (name: string, fn: () => void) => {
    if (t.database.mode === 'patroni') it(name, fn);
  };

  it('has one service per node, no version key and no container_name', () => {
    expect(Object.keys(compose.services)).toEqual(serviceNames(t));
    const databaseServices = { patroni: raw.patroniNodes! + 3 + 1, single: 1, external: 0 }[t.database.mode];
    expect(serviceNames(t)).toHaveLength(databaseServices + t.grafana.replicas.length + 1);
    expect(compose.version).toBeUndefined();
    for (const service of Object.values(compose.services)) expect(service.container_name).toBeUndefined();
  });

  it('publishes only the load balancer, and keeps the data networks internal', () => {
    const publishing = Object.entries(compose.services)
      .filter(([, s]) => s.ports)
      .map(([name]) => name);
    expect(publishing).toEqual([t.loadBalancer.name]);
    expect(Object.keys(compose.networks)).toEqual(
      { patroni: ['edge', 'app', 'db'], single: ['edge', 'app'], external: ['edge', 'app'] }[t.database.mode],
    );
    for (const [name, network] of Object.entries(compose.networks))
      expect({ name, internal: network.internal ?? false }).toEqual({ name, internal: name !== 'edge' });
    for (const replica of t.grafana.replicas) expect(Object.keys(compose.services[replica.name].networks)).toEqual(['edge', 'app']);
  });

  it('gives every service a healthcheck, and every dependency a condition on an existing service', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, test: service.healthcheck?.test[0] }).toEqual({ name, test: 'CMD' });
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(Object.keys(compose.services)).toContain(dependency);
        expect(['service_healthy', 'service_started']).toContain(condition);
      }
    }
  });

  it('drops every capability of every service; only the single PostgreSQL adds back what its entrypoint needs', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, cap_drop: service.cap_drop }).toEqual({ name, cap_drop: ['ALL'] });
      // The official postgres image starts as root, fixes ownership and modes of its data and socket
      // directories, then steps down to postgres with gosu.
      const needed =
        t.database.mode === 'single' && name === 'postgres' ? ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETUID', 'SETGID'] : undefined;
      expect({ name, cap_add: service.cap_add }).toEqual({ name, cap_add: needed });
    }
  });

  it('pins every image to a full version from the catalog', () => {
    const images = Object.values(compose.services).flatMap((s) => (s.image ? [s.image] : []));
    const catalog = [IMAGES.etcd, IMAGES.haproxy, IMAGES.nginx, t.grafana.image, ...Object.values(POSTGRES_IMAGES)];
    for (const image of images) {
      expect(catalog).toContain(image);
      expect(image).toMatch(/:v?\d+\.\d+(\.\d+)?(-trixie)?$/);
    }
  });

  itWithPatroni('gives `docker compose exec … patronictl` the REST API password through a wrapper', () => {
    const dockerfile = files['patroni/image/Dockerfile'];
    // The wrapper in /usr/local/bin comes before the package's /usr/bin/patronictl on the image's
    // default PATH: no ENV PATH may put anything ahead of it.
    expect(dockerfile).toContain('COPY --chmod=0755 patronictl.sh /usr/local/bin/patronictl');
    expect(dockerfile).not.toMatch(/^ENV PATH=/m);
    expect(files['patroni/image/patronictl.sh']).toMatch(/^exec \/usr\/local\/bin\/with-secrets \/usr\/bin\/patronictl "\$@"$/m);
    expect(files['patroni/image/with-secrets.sh']).toContain('PATRONI_RESTAPI_PASSWORD="$(secret patroni-restapi-password)"');
    expect(dockerfile).toContain('ENTRYPOINT ["/usr/local/bin/with-secrets", "patroni"]');
  });

  itWithPatroni('lets a plain `docker compose exec <node> patronictl list` find the node config (PATRONICTL_CONFIG_FILE)', () => {
    // patronictl reads PATRONICTL_CONFIG_FILE when -c is not given (patroni/ctl.py); without a config it has
    // only the PATRONI_* variables, no REST API user name, and crashes with KeyError: 'username'.
    expect(files['patroni/image/Dockerfile']).toMatch(
      new RegExp(`^ENV PATRONICTL_CONFIG_FILE=${PATRONI_FILES.nodeConfig.inContainer}$`, 'm'),
    );
    for (const node of patroniOf(t).patroni.nodes) {
      expect(compose.services[node.name].volumes).toContain(`./${node.configFile}:${PATRONI_FILES.nodeConfig.inContainer}:ro`);
    }
    const readme = files['README.md'];
    expect(readme).toContain(`docker compose exec ${patroniOf(t).patroni.nodes[0].name} patronictl list`);
    expect(readme).not.toMatch(/patronictl (-c|--config-file)\b/);
  });

  itWithPatroni('builds the Patroni image from a pinned PostgreSQL image and the pinned Patroni release from apt, not PyPI', () => {
    const dockerfile = files['patroni/image/Dockerfile'];
    expect(dockerfile).toContain(`FROM ${POSTGRES_IMAGES[patroniOf(t).patroni.postgresMajor]}\n`);
    expect(PATRONI_VERSION).toMatch(/^4\.\d+\.\d+$/);
    // The image's own apt sources (Debian + apt.postgresql.org): the etcd3 DCS needs python-etcd, the healthcheck curl.
    expect(dockerfile).toContain(`apt-get install -y --no-install-recommends 'patroni=${PATRONI_VERSION}-*' python3-etcd curl`);
    expect(dockerfile).not.toMatch(/\bpip\b|venv|\/opt\/patroni/);
    expect(files['README.md']).toContain(`Patroni ${PATRONI_VERSION} from the PostgreSQL project's`);
  });

  it('gives PostgreSQL a stop grace period longer than Docker’s 10 s default', () => {
    const postgres = { patroni: () => patroniOf(t).patroni.nodes.map((n) => n.name), single: () => ['postgres'], external: () => [] };
    for (const name of postgres[t.database.mode]())
      expect(parseInt(compose.services[name].stop_grace_period ?? '0', 10)).toBeGreaterThan(10);
  });

  it('mounts each secret from a file under secrets/', () => {
    for (const [name, secret] of Object.entries(compose.secrets)) expect(secret.file).toBe(`./secrets/${name}`);
    const used = new Set(Object.values(compose.services).flatMap((s) => s.secrets ?? []));
    expect([...used].sort()).toEqual(Object.keys(compose.secrets).sort());
  });

  it('gives every Grafana replica one grafana.ini: public root_url, shared secret_key, one DB endpoint, alerting peers', () => {
    const ini = parse(files['grafana/grafana.ini']);
    expect(ini.server.root_url).toBe(t.grafana.publicUrl);
    expect(ini.security.secret_key).toBe('$__file{/run/secrets/grafana-secret-key}');
    const endpoint = { patroni: 'db-router:5432', single: 'postgres:5432', external: 'pg.example.com:5432' }[t.database.mode];
    const sslMode = t.database.mode === 'external' ? 'require' : 'disable';
    expect(ini.database).toMatchObject({ type: 'postgres', host: endpoint, name: 'grafana', user: 'grafana', ssl_mode: sslMode });
    expect(ini.database.password).toBe('$__file{/run/secrets/grafana-db-password}');
    expect(Number(ini.database.locking_attempt_timeout_sec)).toBeGreaterThanOrEqual(60);
    // Peers by their names on the internal `app` network only; the replica's own addresses (IPs,
    // which Grafana requires) come from the wrapper it starts through, never from grafana.ini.
    expect(ini.unified_alerting.ha_peers.split(',')).toEqual(t.grafana.replicas.map((r) => `${r.name}.app:9094`));
    expect(ini.unified_alerting.ha_listen_address).toBeUndefined();
    expect(ini.unified_alerting.ha_advertise_address).toBeUndefined();
    for (const replica of t.grafana.replicas) {
      expect(compose.services[replica.name].secrets).toEqual(
        expect.arrayContaining(['grafana-db-password', 'grafana-secret-key', 'grafana-admin-password']),
      );
    }
  });

  itWithPatroni("recycles Grafana's DB connections before the DB router would cut them", () => {
    const minutes = [...files['db-router/haproxy.cfg'].matchAll(/timeout (?:client|server) (\d+)m/g)].map((m) => Number(m[1]));
    expect(minutes).toHaveLength(2);
    for (const m of minutes) expect(GRAFANA_CONN_MAX_LIFETIME_S).toBeLessThan(m * 60);
  });

  itWithPatroni('routes the DB router to every Patroni node with the REST API role checks', () => {
    const cfg = files['db-router/haproxy.cfg'];
    for (const node of patroniOf(t).patroni.nodes)
      expect(cfg.match(new RegExp(`server ${node.name} ${node.name}:5432`, 'g'))).toHaveLength(2);
    expect(cfg).toContain('uri /primary');
    expect(cfg).toContain('uri /replica');
    expect(cfg).toContain('on-marked-down shutdown-sessions');
  });

  itWithPatroni("keeps the DB router's unauthenticated stats page on the container's loopback; its healthcheck asks there", () => {
    const cfg = files['db-router/haproxy.cfg'];
    const status = cfg.slice(cfg.indexOf('frontend status'));
    expect(status.match(/^\s*bind .*$/gm)).toEqual(['    bind 127.0.0.1:8404']);
    expect(JSON.stringify(compose.services['db-router'].healthcheck)).toContain('/dev/tcp/127.0.0.1/8404');
  });

  itWithPatroni('writes Patroni configs that satisfy its timing rule and name every etcd member', () => {
    const { patroni, etcd } = patroniOf(t);
    for (const node of patroni.nodes) {
      const yml = load(files[node.configFile]) as {
        scope: string;
        name: string;
        etcd3: { hosts: string[] };
        bootstrap: { dcs: { ttl: number; loop_wait: number; retry_timeout: number; synchronous_mode: boolean } };
        postgresql: { connect_address: string; pg_hba: string[] };
        restapi: { connect_address: string };
      };
      const dcs = yml.bootstrap.dcs;
      expect(patroniTimingProblems({ ttl: dcs.ttl, loopWait: dcs.loop_wait, retryTimeout: dcs.retry_timeout })).toEqual([]);
      expect(yml.scope).toBe(t.project);
      expect(yml.name).toBe(node.name);
      expect(yml.postgresql.connect_address).toBe(`${node.name}:5432`);
      expect(yml.restapi.connect_address).toBe(`${node.name}:8008`);
      expect(yml.etcd3.hosts).toEqual(etcd.members.map((m) => `${m.name}:2379`));
      expect(dcs.synchronous_mode).toBe(true);
      // scram everywhere but the local socket, where peer applies.
      expect(yml.postgresql.pg_hba.filter((l) => !l.startsWith('local')).every((l) => l.endsWith('scram-sha-256'))).toBe(true);
      expect(yml.postgresql.pg_hba.join('\n')).not.toMatch(/trust|md5|password$/);
    }
  });

  it('routes Grafana through the chosen load balancer to every replica', () => {
    const lbFile = raw.loadBalancer === 'nginx' ? files['lb/nginx.conf'] : files['lb/haproxy.cfg'];
    for (const replica of t.grafana.replicas) expect(lbFile).toContain(`${replica.name}:3000`);
    expect(lbFile).toMatch(raw.loadBalancer === 'nginx' ? /proxy_next_upstream error timeout;/ : /option httpchk/);
  });

  it('starts each Grafana replica through the gossip-address wrapper, which knows its name on `app`', () => {
    for (const replica of t.grafana.replicas) {
      const service = compose.services[replica.name];
      expect(service.entrypoint).toEqual(['/bin/sh', '/etc/grafana/gossip-address.sh']);
      expect(service.environment).toEqual({ GOSSIP_HOST: `${replica.name}.app` });
      expect(service.networks).toMatchObject({ app: { aliases: [`${replica.name}.app`] } });
      expect(service.volumes).toContain('./grafana/gossip-address.sh:/etc/grafana/gossip-address.sh:ro');
    }
    const wrapper = files['grafana/gossip-address.sh'];
    expect(wrapper).toMatch(/^export GF_UNIFIED_ALERTING_HA_ADVERTISE_ADDRESS="\$address:9094"$/m);
    expect(wrapper).toMatch(/^exec \/run\.sh "\$@"$/m);
  });
});

it('differs between PostgreSQL majors only in the image, binary and data paths', () => {
  const pg18 = filesFor({ postgresMajor: 18 });
  const pg17 = filesFor({ postgresMajor: 17 });
  const changed = Object.keys(pg18).filter((path) => pg18[path] !== pg17[path]);
  expect(changed.sort()).toEqual([
    'README.md',
    'compose.yaml',
    'patroni/image/Dockerfile',
    'patroni/pg-1.yml',
    'patroni/pg-2.yml',
    'patroni/pg-3.yml',
    // pgBackRest's pg1-path and spool, in the data volume.
    'patroni/pgbackrest.conf',
    // The major it upgrades to.
    'scripts/upgrade-postgres-major.sh',
  ]);
  const node = (files: Record<string, string>) =>
    (load(files['patroni/pg-1.yml']) as { postgresql: { data_dir: string; bin_dir: string } }).postgresql;
  // Where each official image declares its VOLUME: /var/lib/postgresql/data up to 17, /var/lib/postgresql from 18.
  expect(node(pg17)).toMatchObject({ data_dir: '/var/lib/postgresql/data/pgdata', bin_dir: '/usr/lib/postgresql/17/bin' });
  expect(node(pg18)).toMatchObject({ data_dir: '/var/lib/postgresql/18/docker', bin_dir: '/usr/lib/postgresql/18/bin' });
  expect(pg17['compose.yaml']).toContain('pg-1-data:/var/lib/postgresql/data\n');
  expect(pg18['compose.yaml']).toContain('pg-1-data:/var/lib/postgresql\n');
});

it('serves Grafana from a sub-path when the public URL has one, with the trailing slash root_url needs', () => {
  const ini = parse(filesFor({ publicUrl: 'https://example.com/grafana' })['grafana/grafana.ini']);
  expect(ini.server).toMatchObject({ root_url: 'https://example.com/grafana/', serve_from_sub_path: true });
  expect(parse(filesFor({})['grafana/grafana.ini']).server.serve_from_sub_path).toBe(false);
});

it('nginx sends Host and X-Forwarded-* from every location (Grafana checks Origin against Host)', () => {
  const conf = filesFor({ loadBalancer: 'nginx' })['lb/nginx.conf'];
  const locations = [...conf.matchAll(/^\s*location ([^{]+)\{([^}]*)\}/gm)].filter(([, path]) => !path.includes('healthz'));
  expect(locations.map(([, path]) => path.trim())).toEqual(['/', '/api/live/']);
  for (const [, , body] of locations) {
    expect(body).toContain('proxy_set_header Host $http_host;');
    expect(body).toContain('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
    expect(body).toContain('proxy_set_header X-Forwarded-Proto $scheme;');
  }
  // Only failures to reach a replica are retried, not Grafana's own 502/504 answers, and never a
  // request already sent (non_idempotent would replay a POST the dying replica may have applied).
  expect(conf).toMatch(/^\s*proxy_next_upstream error timeout;$/m);
  expect(conf).not.toMatch(/^\s*proxy_next_upstream .*non_idempotent/m);
});

it('writes the same root_url everywhere it is configured, for a custom public URL', () => {
  const files = filesFor({ publicUrl: 'https://grafana.example.com/' });
  const ini = parse(files['grafana/grafana.ini']);
  expect(ini.server.root_url).toBe('https://grafana.example.com/');
  expect(ini.security.cookie_secure).toBe(true);
});

describe('database modes', () => {
  it('creates Grafana’s role and database with the same SQL in Patroni and single mode', () => {
    const patroni = filesFor({});
    const single = filesFor({ dbMode: 'single' });
    expect(patroni['patroni/image/create-grafana-db.sql']).toBe(single['postgres/create-grafana-db.sql']);
    expect(single['postgres/create-grafana-db.sql']).toMatch(/CREATE ROLE grafana LOGIN PASSWORD :'role_password';/);
    expect(single['postgres/create-grafana-db.sql']).not.toMatch(/CREATE ROLE[^;]*SUPERUSER/i);
    const compose = load(single['compose.yaml']) as {
      services: Record<string, { environment: Record<string, string>; volumes: string[] }>;
    };
    expect(compose.services.postgres.environment.POSTGRES_PASSWORD_FILE).toBe('/run/secrets/postgres-superuser-password');
    expect(compose.services.postgres.volumes).toContain(
      './postgres/create-grafana-db.sql:/docker-entrypoint-initdb.d/create-grafana-db.sql:ro',
    );
  });

  it('points Grafana at an external database with its SSL mode and CA certificate', () => {
    const files = filesFor({
      ...EXTERNAL,
      dbPort: 6432,
      dbName: 'grafana_prod',
      dbUser: 'svc_grafana',
      dbSslMode: 'verify-full',
      dbCaFile: TEST_CA_FILE,
    });
    const ini = parse(files['grafana/grafana.ini']);
    expect(ini.database).toMatchObject({
      host: 'pg.example.com:6432',
      name: 'grafana_prod',
      user: 'svc_grafana',
      ssl_mode: 'verify-full',
      ca_cert_path: '/etc/grafana/db-ca.crt',
    });
    const compose = load(files['compose.yaml']) as { services: Record<string, { volumes: string[] }>; secrets: Record<string, unknown> };
    expect(compose.services['grafana-1'].volumes).toContain('./grafana/db-ca.crt:/etc/grafana/db-ca.crt:ro');
    expect(Object.keys(compose.secrets).sort()).toEqual(['grafana-admin-password', 'grafana-db-password', 'grafana-secret-key']);
    expect(files['README.md']).toMatch(/one writable endpoint that follows failover/);
  });

  it('says plainly in the README when the database is not highly available', () => {
    expect(filesFor({ dbMode: 'single' })['README.md']).toMatch(/no database HA/);
    expect(filesFor({})['README.md']).not.toMatch(/no database HA/);
  });
});

describe('the failover drill script', () => {
  it('probes through the DB router from a replica and through the published LB port, and fails on a lost acknowledged write', () => {
    const drill = filesFor({ httpPort: 9090, patroniNodes: 4 })['scripts/failover-drill.sh']!;
    expect(drill).toContain('for n in pg-1 pg-2 pg-3 pg-4; do');
    expect(drill).toContain('host=db-router port=5432 dbname=postgres user=postgres connect_timeout=2');
    expect(drill).toContain('http://127.0.0.1:9090/api/health');
    expect(drill).toContain('patronictl switchover --force');
    expect(drill).toContain('docker compose kill -s SIGKILL "$was"');
    expect(drill).toMatch(/\[ "\$lost" -eq 0 \] \|\| \{[^\n]*exit 1; \}\n$/);
    // The README shows it, for the stack-lab test to run as written.
    expect(filesFor({})['README.md']).toMatch(
      /### Rehearse a failover[\s\S]*```text\n\.\/scripts\/failover-drill\.sh\n\.\/scripts\/failover-drill\.sh --kill\n```/,
    );
  });

  it('is left out of Swarm stacks (it drives docker compose) and of stacks without Patroni', () => {
    const swarm = filesFor({ deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/g' } as Partial<Answers>);
    expect(Object.keys(swarm)).not.toContain(PATRONI_FILES.failoverDrill.path);
    expect(Object.keys(filesFor({ dbMode: 'single' }))).not.toContain(PATRONI_FILES.failoverDrill.path);
  });
});
