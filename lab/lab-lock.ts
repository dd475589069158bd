/**
 * One lab per machine: the lab's namespace names are fixed (`ggha-<service>`)
 * and a starting lab removes leftovers, so a second lab (say `npm test` while
 * `npm run bench:failover` runs) would tear the first one down. A lock file
 * holding the owner's PID serialises them; a lock whose owner is dead is stale.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { sleep } from './shell.js';

export const LOCK_PATH = process.env.GGHA_LAB_LOCK ?? '/run/ggha-lab.pid';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Takes the lock, waiting up to `timeoutMs` for another live owner to let go. */
export async function acquireLabLock(timeoutMs = Number(process.env.GGHA_LAB_LOCK_WAIT_S ?? 1800) * 1000, path = LOCK_PATH): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(readFileSync(path, 'utf8').trim() || 0);
    if (owner === process.pid) return;
    if (!owner || !alive(owner)) {
      rmSync(path, { force: true }); // stale
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another stack lab (pid ${owner}) holds ${path}`);
    if (!announced) console.warn(`stack lab: waiting for the lab of pid ${owner} to finish (${path})`);
    announced = true;
    await sleep(1000);
  }
}

/** Releases the lock if this process holds it. Synchronous: safe in exit handlers. */
export function releaseLabLock(path = LOCK_PATH): void {
  try {
    if (Number(readFileSync(path, 'utf8').trim()) === process.pid) rmSync(path, { force: true });
  } catch {
    /* no lock */
  }
}
