/** What the generated files say, parsed back with the same libraries that wrote them. */
import { parse } from 'ini';
import { load } from 'js-yaml';
import { IMAGES, POSTGRES_IMAGES } from '../generators/app/catalog.js';
import { patroniTimingProblems } from '../generators/app/failover-profiles.js';
import type { Answers } from '../generators/app/questions.js';
import { GRAFANA_CONN_MAX_LIFETIME_S } from '../generators/app/render/grafana-ini.js';
import { serviceNames } from '../generators/app/topology.js';
import { filesFor, topologyFor } from './helpers/stack.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: unknown[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  networks: string[];
  secrets?: string[];
  stop_grace_period?: string;
  container_name?: string;
}
interface Compose {
  name: string;
  version?: string;
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean }>;
  secrets: Record<string, { file: string }>;
}

const MATRIX: Partial<Answers>[] = [];
for (const loadBalancer of ['haproxy', 'nginx'] as const) {
  for (const grafanaReplicas of [1, 3]) {
    for (const patroniNodes of [2, 3]) MATRIX.push({ loadBalancer, grafanaReplicas, patroniNodes });
  }
}

describe.each(MATRIX)('stack for %j', (raw) => {
  const files = filesFor(raw);
  const t = topologyFor(raw);
  const compose = load(files['compose.yaml']) as Compose;

  it('matches the committed snapshot', () => {
    expect(files).toMatchSnapshot();
  });

  it('has one service per node, no version key and no container_name', () => {
    expect(Object.keys(compose.services)).toEqual(serviceNames(t));
    expect(serviceNames(t)).toHaveLength(t.etcd.members.length + t.patroni.nodes.length + t.grafana.replicas.length + 2);
    expect(compose.version).toBeUndefined();
    for (const service of Object.values(compose.services)) expect(service.container_name).toBeUndefined();
  });

  it('publishes only the load balancer, and keeps the data networks internal', () => {
    const publishing = Object.entries(compose.services).filter(([, s]) => s.ports).map(([name]) => name);
    expect(publishing).toEqual([t.loadBalancer.name]);
    expect(compose.networks.app.internal).toBe(true);
    expect(compose.networks.db.internal).toBe(true);
    for (const replica of t.grafana.replicas) expect(compose.services[replica.name].networks).not.toContain('db');
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

  it('pins every image to a full version from the catalog', () => {
    const images = Object.values(compose.services).flatMap((s) => (s.image ? [s.image] : []));
    const catalog = [IMAGES.etcd, IMAGES.haproxy, IMAGES.nginx, t.grafana.image];
    for (const image of images) {
      expect(catalog).toContain(image);
      expect(image).toMatch(/:v?\d+\.\d+\.\d+$/);
    }
    expect(files['patroni/image/Dockerfile']).toContain(`FROM ${POSTGRES_IMAGES[t.patroni.postgresMajor]}\n`);
    expect(files['patroni/image/Dockerfile']).toMatch(/patroni\[etcd3,psycopg3\]==4\.\d+\.\d+/);
  });

  it('gives Patroni a stop grace period longer than Docker’s 10 s default', () => {
    for (const node of t.patroni.nodes) expect(parseInt(compose.services[node.name].stop_grace_period ?? '0', 10)).toBeGreaterThan(10);
  });

  it('mounts each secret from a file under secrets/', () => {
    for (const [name, secret] of Object.entries(compose.secrets)) expect(secret.file).toBe(`./secrets/${name}`);
    const used = new Set(Object.values(compose.services).flatMap((s) => s.secrets ?? []));
    expect([...used].sort()).toEqual(Object.keys(compose.secrets).sort());
  });

  it('gives every Grafana replica one grafana.ini: public root_url, shared secret_key, DB router, alerting peers', () => {
    const ini = parse(files['grafana/grafana.ini']);
    expect(ini.server.root_url).toBe(t.grafana.publicUrl);
    expect(ini.security.secret_key).toBe('$__file{/run/secrets/grafana-secret-key}');
    expect(ini.database).toMatchObject({ type: 'postgres', host: 'db-router:5432', name: 'grafana', user: 'grafana' });
    expect(ini.database.password).toBe('$__file{/run/secrets/grafana-db-password}');
    expect(Number(ini.database.locking_attempt_timeout_sec)).toBeGreaterThanOrEqual(60);
    expect(ini.unified_alerting.ha_peers.split(',')).toEqual(t.grafana.replicas.map((r) => `${r.name}:9094`));
    for (const replica of t.grafana.replicas) {
      expect(compose.services[replica.name].secrets).toEqual(
        expect.arrayContaining(['grafana-db-password', 'grafana-secret-key', 'grafana-admin-password']),
      );
    }
  });

  it("recycles Grafana's DB connections before the DB router would cut them", () => {
    const minutes = [...files['db-router/haproxy.cfg'].matchAll(/timeout (?:client|server) (\d+)m/g)].map((m) => Number(m[1]));
    expect(minutes).toHaveLength(2);
    for (const m of minutes) expect(GRAFANA_CONN_MAX_LIFETIME_S).toBeLessThan(m * 60);
  });

  it('routes the DB router to every Patroni node with the REST API role checks', () => {
    const cfg = files['db-router/haproxy.cfg'];
    for (const node of t.patroni.nodes) expect(cfg.match(new RegExp(`server ${node.name} ${node.name}:5432`, 'g'))).toHaveLength(2);
    expect(cfg).toContain('uri /primary');
    expect(cfg).toContain('uri /replica');
    expect(cfg).toContain('on-marked-down shutdown-sessions');
  });

  it('writes Patroni configs that satisfy its timing rule and name every etcd member', () => {
    for (const node of t.patroni.nodes) {
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
      expect(yml.etcd3.hosts).toEqual(t.etcd.members.map((m) => `${m.name}:2379`));
      expect(dcs.synchronous_mode).toBe(true);
      // scram everywhere but the local socket, where peer applies.
      expect(yml.postgresql.pg_hba.filter((l) => !l.startsWith('local')).every((l) => l.endsWith('scram-sha-256'))).toBe(true);
      expect(yml.postgresql.pg_hba.join('\n')).not.toMatch(/trust|md5|password$/);
    }
  });

  it('routes Grafana through the chosen load balancer to every replica', () => {
    const lbFile = raw.loadBalancer === 'nginx' ? files['lb/nginx.conf'] : files['lb/haproxy.cfg'];
    for (const replica of t.grafana.replicas) expect(lbFile).toContain(`${replica.name}:3000`);
    expect(lbFile).toMatch(raw.loadBalancer === 'nginx' ? /proxy_next_upstream error timeout/ : /option httpchk/);
  });
});

it('differs between PostgreSQL majors only in the image and binary paths', () => {
  const pg18 = filesFor({ postgresMajor: 18 });
  const pg17 = filesFor({ postgresMajor: 17 });
  const changed = Object.keys(pg18).filter((path) => pg18[path] !== pg17[path]);
  expect(changed.sort()).toEqual(['README.md', 'patroni/image/Dockerfile', 'patroni/pg-1.yml', 'patroni/pg-2.yml', 'patroni/pg-3.yml']);
  expect(pg17['patroni/pg-1.yml'].replaceAll('/17/', '/18/')).toBe(pg18['patroni/pg-1.yml']);
});

it('writes the same root_url everywhere it is configured, for a custom public URL', () => {
  const files = filesFor({ publicUrl: 'https://grafana.example.com/' });
  const ini = parse(files['grafana/grafana.ini']);
  expect(ini.server.root_url).toBe('https://grafana.example.com/');
  expect(ini.security.cookie_secure).toBe(true);
});
