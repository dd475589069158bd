/**
 * Step 2 of the pipeline: validated answers → the topology of the stack. Every
 * service name, port, network, peer list and secret is decided here, once;
 * the renderers only lay these facts out in each file's format. What differs
 * per database mode or load balancer comes from that kind's module (kinds/).
 */
import { IMAGES } from './catalog.js';
import { DATABASE_MODES, LOAD_BALANCERS, modeOf, type DatabaseTopology, type LoadBalancerKind } from './kinds/registry.js';
import type { StackHistory } from './kinds/patroni.js';
import { NETWORKS } from './networks.js';
import { numbered, type NonEmpty } from './numbered.js';
import type { Answers, SslMode } from './questions.js';
import { SECRETS, SECRETS_DIR, type SecretKey, type SecretSpec } from './secret-specs.js';

export { NETWORKS, SECRETS, SECRETS_DIR, type DatabaseTopology, type SecretKey, type SecretSpec, type StackHistory };

export interface GrafanaReplica {
  name: string;
  httpPort: number;
  /** Unified alerting memberlist gossip (TCP and UDP). */
  gossipPort: number;
  /** This replica's name on the `app` network only, so that gossip never goes over `edge`. */
  gossipHost: string;
}

/** Where and how Grafana connects, whatever the mode. */
export interface GrafanaDatabase {
  host: string;
  port: number;
  name: string;
  user: string;
  sslMode: SslMode;
  /** CA certificate, copied into the stack, for ssl_mode=verify-full. */
  caCert?: { file: string; source: string };
}

export interface Topology {
  project: string;
  answers: Answers;
  database: DatabaseTopology;
  grafana: {
    replicas: NonEmpty<GrafanaReplica>;
    image: string;
    publicUrl: string;
    database: GrafanaDatabase;
  };
  loadBalancer: {
    name: string;
    kind: LoadBalancerKind;
    image: string;
    /** Unprivileged port inside the container; published as `publishedPort`. */
    listenPort: number;
    publishedPort: number;
    /** HTTP port for the load balancer's own health (HAProxy stats / nginx status). */
    statusPort: number;
  };
  /** The secrets this stack uses (depends on the database mode). */
  secrets: Partial<Record<SecretKey, SecretSpec>>;
}

/** Grafana's root_url, and the links built from it, expect a trailing slash. */
const withTrailingSlash = (url: string) => (url.endsWith('/') ? url : `${url}/`);

/** The secrets a mode needs, with what they mean there. */
function secretsFor(mode: (typeof DATABASE_MODES)[keyof typeof DATABASE_MODES], answers: Answers): Partial<Record<SecretKey, SecretSpec>> {
  const overrides: Partial<Record<SecretKey, Partial<SecretSpec>>> = mode.secretOverrides ?? {};
  return Object.fromEntries(mode.secrets(answers).map((key) => [key, { ...SECRETS[key], ...overrides[key] }]));
}

/** The most Grafana replicas a stack can have (the answer's bound). */
export const GRAFANA_REPLICAS_MAX = 9;

/** The i-th Grafana replica (1-based). */
export const grafanaReplica = (i: number): GrafanaReplica => ({
  name: `grafana-${i}`,
  httpPort: 3000,
  gossipPort: 9094,
  gossipHost: `grafana-${i}.${NETWORKS.app}`,
});

export function buildTopology(answers: Answers, history?: StackHistory): Topology {
  const mode = DATABASE_MODES[answers.dbMode];
  const database = mode.topology(answers, history);
  const replicas = numbered(answers.grafanaReplicas, grafanaReplica);
  return {
    project: answers.projectName,
    answers,
    database,
    grafana: {
      replicas,
      image: IMAGES.grafana(answers.grafanaVersion),
      publicUrl: withTrailingSlash(answers.publicUrl),
      database: modeOf(database).grafanaEndpoint(answers, database),
    },
    loadBalancer: {
      name: 'lb',
      kind: answers.loadBalancer,
      image: LOAD_BALANCERS[answers.loadBalancer].image,
      listenPort: 8080,
      publishedPort: answers.httpPort,
      statusPort: 8404,
    },
    secrets: secretsFor(mode, answers),
  };
}

/** Every Compose service, in start-up order. */
export const serviceNames = (t: Topology): string[] => [
  ...modeOf(t.database).serviceNames(t.database),
  ...t.grafana.replicas.map((r) => r.name),
  t.loadBalancer.name,
];
