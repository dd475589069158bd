// jest globalSetup: starts the test Docker Engine (lab/engine.sh) when this machine can run it,
// and makes sure the engine this run started is stopped by its PID when the run ends — normally,
// after failed tests, or on Ctrl-C. An engine that was already running is left running.
const { execFileSync, spawnSync } = require('node:child_process');
const { join } = require('node:path');

const engineSh = join(__dirname, '../../lab/engine.sh');

module.exports = async () => {
  if (process.env.GGHA_NO_ENGINE === '1') return; // npm run test:unit: no root, no engine
  const check = spawnSync('bash', [engineSh, 'check'], { encoding: 'utf8' });
  if (check.status !== 0) {
    console.warn(`\n!!! ENGINE SUITES WILL BE SKIPPED: ${check.stdout.trim() || check.stderr.trim()}\n`);
    return;
  }
  if (spawnSync('bash', [engineSh, 'running']).status === 0) return;
  const pid = execFileSync('bash', [engineSh, 'start'], { encoding: 'utf8' }).trim();
  console.log(`\ntest engine started (dockerd pid ${pid})`);
  // By this run's own PID: another run may have started an engine of its own since this one stopped.
  const stop = () => spawnSync('bash', [engineSh, 'stop', pid], { stdio: 'inherit' });
  globalThis.__GGHA_STOP_ENGINE__ = stop;
  process.once('exit', stop);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.once(sig, () => {
      stop();
      process.exit(130);
    });
};
