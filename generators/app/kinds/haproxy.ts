/** HAProxy in front of Grafana: active health checks, and a runtime API to drain a replica. */
import { IMAGES } from '../catalog.js';
import { renderTemplate } from '../render/templates.js';
import { IN_IMAGE, STACK_FILES } from '../stack-files.js';
import { haproxyInitAddr, REPLICA_CONNECT_TIMEOUT, type LoadBalancerSpec } from './load-balancer.js';

/** The LB's HAProxy runtime API, on its own loopback: only `docker compose exec` reaches it. */
const RUNTIME_API_PORT = 9999;
const BACKEND = 'grafana';
const CONFIG = { path: 'lb/haproxy.cfg', inContainer: IN_IMAGE.haproxyConfig };

export const haproxy: LoadBalancerSpec = {
  product: 'HAProxy',
  summary: 'active health checks',
  choiceHelp: 'active health checks; drains a replica through its runtime API',
  image: IMAGES.haproxy,
  config: CONFIG,
  noReplicaStatus: 503,
  files: ({ grafana, loadBalancer }, names = 'exist') => [
    {
      path: CONFIG.path,
      contents: renderTemplate('lb/haproxy.cfg', {
        replicas: grafana.replicas,
        listenPort: loadBalancer.listenPort,
        statusPort: loadBalancer.statusPort,
        runtimeApiPort: RUNTIME_API_PORT,
        rotationScript: STACK_FILES.lbRotation.command,
        backend: BACKEND,
        connectTimeout: REPLICA_CONNECT_TIMEOUT,
        initAddr: haproxyInitAddr(names),
      }),
    },
    {
      path: STACK_FILES.lbRotation.path,
      mode: 0o755,
      contents: renderTemplate('lb/rotation-haproxy.sh', {
        script: STACK_FILES.lbRotation.command,
        replicas: grafana.replicas.map((r) => r.name),
        lb: loadBalancer.name,
        runtimeApiPort: RUNTIME_API_PORT,
        backend: BACKEND,
      }),
    },
  ],
  // HAProxy re-reads its configuration on SIGUSR2 (master-worker mode); open connections stay.
  reloadCommand: (service) => `docker compose kill -s USR2 ${service}`,
  readme: {
    failover: 'readme/lb-haproxy-failover.md.ejs',
    rotation: 'readme/lb-haproxy-rotation.md.ejs',
    replay: 'readme/lb-haproxy-replay.md.ejs',
  },
};
