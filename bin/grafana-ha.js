#!/usr/bin/env node
// Runs the generator without `yo`: `yo` refuses to run as root (it drops to
// uid 1000 and then fails on root's home folder), which is exactly how
// containers and CI run. Same generator, same options: grafana-ha --help.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// No colour where nobody sees it: Yeoman logs to stderr, and colours it even into a pipe or a file.
if (!process.stderr.isTTY) process.env.NO_COLOR = '1';
if (process.env.NO_COLOR) process.env.FORCE_COLOR = '0';
const { prepareCommand } = await import('yeoman-environment');

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const resolved = fileURLToPath(new URL('../generators/app/index.js', import.meta.url));
const command = await prepareCommand({ resolved, namespace: 'grafana-ha:app' });
command
  .name('grafana-ha')
  .description('Scaffold a highly available Grafana stack for Docker Compose')
  .version(version, '--version', 'Print the version and exit');
try {
  await command.parseAsync(process.argv);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
