/** nginx open source in front of Grafana: passive checks only; the rotation script edits its config. */
import { IMAGES } from '../catalog.js';
import { renderTemplate } from '../render/templates.js';
import { STACK_FILES } from '../stack-files.js';
import { REPLICA_CONNECT_TIMEOUT, type LoadBalancerSpec } from './load-balancer.js';

/** Passive checks: one failed connection takes a replica out for this long. */
const CONFIG = { path: 'lb/nginx.conf', inContainer: '/etc/nginx/nginx.conf' };

const NGINX_PASSIVE_CHECK = { maxFails: 1, failTimeout: '5s', connectTimeout: REPLICA_CONNECT_TIMEOUT } as const;

export const nginx: LoadBalancerSpec = {
  product: 'nginx',
  summary: 'passive checks',
  choiceHelp: 'open source nginx: passive checks only',
  image: IMAGES.nginx,
  config: CONFIG,
  noReplicaStatus: 502,
  files: ({ grafana, loadBalancer }) => [
    {
      path: CONFIG.path,
      contents: renderTemplate('lb/nginx.conf', {
        replicas: grafana.replicas,
        listenPort: loadBalancer.listenPort,
        statusPort: loadBalancer.statusPort,
        rotationScript: STACK_FILES.lbRotation.command,
        ...NGINX_PASSIVE_CHECK,
      }),
    },
    {
      path: STACK_FILES.lbRotation.path,
      mode: 0o755,
      contents: renderTemplate('lb/rotation-nginx.sh', {
        script: STACK_FILES.lbRotation.command,
        replicas: grafana.replicas.map((r) => r.name),
        lb: loadBalancer.name,
        config: CONFIG.path,
      }),
    },
  ],
  reloadCommand: (service) => `docker compose exec ${service} nginx -s reload`,
  readme: {
    failover: 'readme/lb-nginx-failover.md.ejs',
    rotation: 'readme/lb-nginx-rotation.md.ejs',
    replay: 'readme/lb-nginx-replay.md.ejs',
  },
};
