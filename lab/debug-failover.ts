/** Manual probe: node dist/lab/debug-failover.js — kills the primary and prints what clients see, second by second, for 40 s. */
import { cluster, httpRequest, leaderName, pgQuery, startLoop, waitClusterSettled } from './clients.js';
import { generateStack } from './generate.js';
import { sleep } from './shell.js';
import { StackLab } from './stack-lab.js';

const lab = await StackLab.start(process.argv[2] ?? generateStack({}), {});
try {
  await waitClusterSettled(lab, { sync: true });
  for (const s of lab.services()) await lab.waitHealthy(s, 60_000);
  const leader = (await leaderName(lab))!;
  console.log('leader', leader, lab.tempDir);
  const writer = startLoop(lab, { method: 'POST', path: '/api/standin/writes', maxMs: 60_000 });
  await sleep(2000);
  const t0 = Date.now();
  console.log('kill at', new Date(t0).toISOString());
  await lab.kill(leader);
  while (Date.now() - t0 < 40_000) {
    const t = ((Date.now() - t0) / 1000).toFixed(1);
    const via = await httpRequest(lab.socketPath('lb', 8080), 'POST', '/api/standin/writes', 5000).then((r) => `${r.status} ${r.body.slice(0, 120)}`, (e) => e.message);
    const direct = await pgQuery(lab, 'db-router', "INSERT INTO standin_writes (instance) VALUES ('probe') RETURNING id").then((r) => `ok ${r[0].id}`, (e) => e.message);
    const c = await cluster(lab).then((m) => m.map((x) => `${x.name}:${x.role}:${x.state}`).join(' '), (e) => e.message);
    const last = writer.events.slice(-3).map((e) => `${e.status}${e.error ? ' ' + e.error.slice(0, 50) : ''} ${e.ms}ms ${e.instance}`).join(' ; ');
    console.log(t, '| writer:', writer.events.length, last);
    console.log(t, '| grafana:', via, '| router:', direct, '|', c);
    await sleep(1000);
  }
} finally {
  lab.destroy();
}
