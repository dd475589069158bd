/**
 * compose.yaml as a plain object, dumped with js-yaml. Compose Specification:
 * no `version:`, no `container_name` (it blocks scaling and re-creation).
 * The database mode adds its own services; the load balancer kind names its image and config.
 */
import { dump } from 'js-yaml';
import { LOAD_BALANCERS, modeOf } from '../kinds/registry.js';
import { readOnlyMount, STACK_FILES } from '../stack-files.js';
import { NETWORKS, type Topology } from '../topology.js';
import { hardening, healthcheck, httpProbe, limits, uses, type Services, type Volumes } from './compose-parts.js';

export function composeObject(t: Topology) {
  const { database, grafana, loadBalancer, secrets } = t;
  const mode = modeOf(database);
  const volumes: Volumes = {};
  const services: Services = mode.services(t, database, volumes);
  // An external database is reached through `edge`, the one network with a way out; the alerting
  // gossip stays on the internal `app`, where each replica has a name of its own.
  const caCert = grafana.database.caCert;
  const dependsOn = mode.grafanaDependsOn(database);

  for (const replica of grafana.replicas) {
    volumes[`${replica.name}-data`] = {};
    services[replica.name] = {
      image: grafana.image,
      ...(dependsOn ? { depends_on: dependsOn } : {}),
      volumes: [
        `${replica.name}-data:/var/lib/grafana`,
        readOnlyMount(STACK_FILES.grafanaIni),
        readOnlyMount(STACK_FILES.gossipWrapper),
        ...(caCert ? [readOnlyMount({ path: caCert.file, inContainer: STACK_FILES.externalDbCa.inContainer })] : []),
      ],
      secrets: uses(secrets.grafanaDb, secrets.grafanaSecretKey, secrets.grafanaAdmin),
      environment: { GOSSIP_HOST: replica.gossipHost },
      networks: { [NETWORKS.edge]: {}, [NETWORKS.app]: { aliases: [replica.gossipHost] } },
      entrypoint: ['/bin/sh', STACK_FILES.gossipWrapper.inContainer],
      restart: 'unless-stopped',
      healthcheck: healthcheck(['CMD', 'curl', '-fsS', '-o', '/dev/null', `http://127.0.0.1:${replica.httpPort}/api/health`], '120s'),
      ...hardening(),
      ...limits('512m'),
    };
  }

  services[loadBalancer.name] = {
    image: loadBalancer.image,
    // Started, not healthy: one broken replica must not keep the load balancer down; its own checks skip it.
    depends_on: Object.fromEntries(grafana.replicas.map((r) => [r.name, { condition: 'service_started' }])),
    volumes: [readOnlyMount(LOAD_BALANCERS[loadBalancer.kind].config)],
    // The only published port of the stack, on every host interface as a public entry point should be.
    ports: [{ target: loadBalancer.listenPort, published: String(loadBalancer.publishedPort), host_ip: '0.0.0.0', protocol: 'tcp' }],
    networks: [NETWORKS.edge],
    restart: 'unless-stopped',
    healthcheck: healthcheck(httpProbe(loadBalancer.statusPort, '/healthz'), '10s'),
    ...hardening(),
    ...limits('128m'),
  };

  const networks: Record<string, { internal?: boolean }> = { [NETWORKS.edge]: {} };
  networks[NETWORKS.app] = { internal: true };
  if (mode.usesDbNetwork) networks[NETWORKS.db] = { internal: true };

  return {
    name: t.project,
    services,
    networks,
    volumes,
    secrets: Object.fromEntries(Object.values(secrets).map((s) => [s.name, { file: `./${s.file}` }])),
  };
}

/** Whether the stack has an image to build (`docker compose build`): only the Patroni nodes' image. */
export const buildsImages = (compose: ReturnType<typeof composeObject>) =>
  Object.values(compose.services).some((s) => 'build' in (s as object));

export const renderCompose = (compose: ReturnType<typeof composeObject>) => dump(compose, { noRefs: true, lineWidth: -1 });
