/**
 * `docker` for the stack lab: the commands a generated README or re-run plan
 * prints (`docker compose exec|up|kill …`, also inside scripts/*.sh) run
 * literally; this program forwards them over a Unix socket
 * (GGHA_LAB_DOCKER_SOCK) to the test process that owns the lab
 * (compose-cli.ts), and prints what comes back with its exit code.
 *
 * Installed by compose-cli.ts as `<bin>/docker` (a two-line sh wrapper).
 */
import { connect } from 'node:net';

const socketPath = process.env.GGHA_LAB_DOCKER_SOCK;
if (!socketPath) {
  console.error('docker (stack lab shim): GGHA_LAB_DOCKER_SOCK is not set');
  process.exit(125);
}
const conn = connect(socketPath);
let reply = '';
conn.setEncoding('utf8');
conn.on('connect', () => conn.write(JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }) + '\n'));
conn.on('data', (chunk) => (reply += chunk));
conn.on('end', () => {
  const r = JSON.parse(reply) as { code: number; stdout: string; stderr: string };
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exitCode = r.code;
});
conn.on('error', (e) => {
  console.error(`docker (stack lab shim): ${e.message}`);
  process.exit(125);
});
