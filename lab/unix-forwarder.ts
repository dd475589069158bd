/**
 * The lab's window into its namespaces. Runs in the `ggha-client` namespace
 * (a plain client on the stack's network, like a user's machine) and exposes
 * each service port as a Unix socket in the lab's temp folder, so the test
 * process on the host can reach services without the host joining the network.
 * The socket is named `.s.PGSQL.<port>` so that PostgreSQL clients can use the
 * folder as their `host`.
 *
 * Usage: node unix-forwarder.js <routes.json>  ([{ socket, host, port }])
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';

interface Route {
  socket: string;
  host: string;
  port: number;
}

const listening = new Set<string>();
function serve(route: Route): void {
  listening.add(route.socket);
  rmSync(route.socket, { force: true });
  createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: route.host, port: route.port, allowHalfOpen: true });
    upstream.setTimeout(5000, () => upstream.destroy()); // connect timeout only
    upstream.on('connect', () => upstream.setTimeout(0));
    client.pipe(upstream).on('error', () => client.destroy());
    upstream.pipe(client).on('error', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }).listen(route.socket);
}
// The lab adds routes when compose.yaml gains services (a re-run of the generator): re-read the file.
let readAt = -1;
function refresh(): void {
  const mtime = statSync(process.argv[2]).mtimeMs;
  if (mtime === readAt) return;
  let routes: Route[];
  try {
    routes = JSON.parse(readFileSync(process.argv[2], 'utf8'));
  } catch {
    return; // caught mid-write: next tick
  }
  readAt = mtime;
  for (const route of routes.filter((r) => !listening.has(r.socket))) serve(route);
}
refresh();
setInterval(refresh, 100);
console.log(`forwarding ${listening.size} ports`);
