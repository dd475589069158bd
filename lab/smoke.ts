/** Manual smoke run: node dist/lab/smoke.js [haproxy|nginx] — brings a stack up, waits until every service is healthy, cleans up. */
import { generateStack } from './generate.js';
import { StackLab } from './stack-lab.js';

const t0 = Date.now();
const dir = generateStack({ loadBalancer: (process.argv[2] as 'haproxy' | 'nginx') ?? 'haproxy' });
console.log(`stack in ${dir}`);
const lab = await StackLab.start(dir, { log: (l) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${l}`) });
try {
  console.log(`project ${lab.project} on the test engine`);
  // GGHA_SMOKE_HOLD_S: keep the stack up this long for poking at it by hand (bounded).
  await new Promise((r) => setTimeout(r, 1000 * Number(process.env.GGHA_SMOKE_HOLD_S ?? 0)));
  for (const s of lab.services()) await lab.waitHealthy(s, 120_000);
  console.log(`all healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} finally {
  lab.destroy();
}
