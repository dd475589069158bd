#!/usr/bin/env node
// Runs the generator without `yo`: `yo` refuses to run as root (it drops to
// uid 1000 and then fails on root's home folder), which is exactly how
// containers and CI run. Same generator, same options: grafana-ha --help.
import { createEnv } from 'yeoman-environment';
import { fileURLToPath } from 'node:url';

const generatorPath = fileURLToPath(new URL('../generators/app/index.js', import.meta.url));
const env = createEnv();
env.register(generatorPath, { namespace: 'grafana-ha:app' });
try {
  await env.run(['grafana-ha:app', ...process.argv.slice(2)]);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
