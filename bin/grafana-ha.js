#!/usr/bin/env node
// Runs the generator without `yo`: `yo` refuses to run as root (it drops to
// uid 1000 and then fails on root's home folder), which is exactly how
// containers and CI run. Same generator, same options: grafana-ha --help.
import { prepareCommand } from 'yeoman-environment';
import { fileURLToPath } from 'node:url';

const resolved = fileURLToPath(new URL('../generators/app/index.js', import.meta.url));
const command = await prepareCommand({ resolved, namespace: 'grafana-ha:app' });
command.name('grafana-ha').description('Scaffold a highly available Grafana stack for Docker Compose');
try {
  await command.parseAsync(process.argv);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
