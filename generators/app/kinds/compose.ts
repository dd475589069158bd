/** Docker Compose on one host: compose.yaml, `docker compose up -d`. */
import { buildsImages, composeObject, renderCompose } from '../render/compose.js';
import { replicaRestartCommands } from '../commands.js';
import { SECRET_FILE_MODE } from '../secrets.js';
import { STACK_FILES } from '../stack-files.js';
import type { DeployTargetSpec } from './deploy-target.js';

export const compose: DeployTargetSpec = {
  summary: 'one host, Docker Compose',
  choiceHelp: 'one Docker host: docker compose up',
  asks: [],
  files: (t, others) => [{ path: STACK_FILES.compose.path, contents: renderCompose(composeObject(t)) }, ...others],
  secretFileMode: SECRET_FILE_MODE,
  handSteps: () => ({
    inService: (service, command) => `\`docker compose exec ${service} ${command}\``,
    remove: (services) => `\`docker compose rm --stop --force ${services.join(' ')}\``,
  }),
  firstStartCommands: (t) => [
    ...(buildsImages(composeObject(t)) ? ['docker compose build'] : []),
    'docker compose up -d',
    'docker compose ps',
  ],
  readme: 'stack/README.md',
  readmePartials: true,
  readmeFacts: (t) => ({
    firstStartCommands: compose.firstStartCommands(t, []),
    rotationScript: STACK_FILES.lbRotation.command,
    restartCommands: replicaRestartCommands(t.grafana.replicas[0].name),
  }),
};
