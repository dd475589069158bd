/** Commands run against a running stack, shared by the re-run plan, the stack README and the lab. */
import { STACK_FILES } from './stack-files.js';

const LB_ROTATION_SCRIPT = STACK_FILES.lbRotation.command;

/** Recreate one service, alone, and wait until it is healthy before the next command. */
export const recreate = (service: string) => `docker compose up -d --no-deps --force-recreate --wait ${service}`;

/** A Grafana replica restarted without a failed request: out of the load balancer's rotation, recreated and healthy, back in. */
export const replicaRestartCommands = (replica: string): string[] => [
  `${LB_ROTATION_SCRIPT} out ${replica}`,
  recreate(replica),
  `${LB_ROTATION_SCRIPT} in ${replica}`,
];
