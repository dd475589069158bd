/**
 * The last step: every decided change to the stack folder, applied all or nothing.
 *
 *  1. stage: every new file is written into a staging folder inside the stack (same file system).
 *     A failed write here (a full disk, a read-only folder) removes the staging folder: the
 *     stack is byte for byte as it was.
 *  2. apply: new files are renamed into place; existing ones are rewritten in place (a running
 *     container bind-mounts them, and a bind mount of one file follows its inode: a renamed-over
 *     file would never reach it); stale files are moved into the staging folder; the record goes
 *     last. A failure here writes every old file back, as it was.
 * SIGINT and SIGTERM wait until both are done (milliseconds), then stop the process: the stack is
 * then the complete new one. A SIGKILL or a power cut can still leave a mix (and a staging folder,
 * which the next run removes): the record, written last, is then the previous one, and the next
 * run plans the whole change again.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export interface FileWrite {
  path: string;
  contents: string;
  mode?: number;
}

export interface StackChanges {
  /** Files to create or replace, relative to the stack folder, in the order they are applied. */
  writes: FileWrite[];
  /** Files to remove. */
  deletes: string[];
  /** Folders to create first, with their mode (the secrets folder is owner-only before a secret lands in it). */
  folders: { path: string; mode: number }[];
  /** Written after everything else (the record of this generation), or nothing when undefined. */
  last?: FileWrite;
}

/** Where a test makes a step fail or a signal arrive: called before each step with its name. */
export type StepHook = (step: string) => void;

const STAGING_PREFIX = '.grafana-ha-staging-';

/** The staging folder of a run; one left behind was killed while staging and is removed by the next. */
export const isStagingFolder = (name: string) => name.startsWith(STAGING_PREFIX);

/** What apply did, in order, so that a failure can undo it exactly. */
type Undo =
  | { kind: 'created-folder'; path: string }
  | { kind: 'created'; path: string }
  | { kind: 'rewritten'; path: string; previous: Buffer; mode: number }
  | { kind: 'removed'; path: string; backup: string };

export async function commitChanges(dir: string, changes: StackChanges, hook: StepHook = () => {}): Promise<void> {
  // SIGINT and SIGTERM wait for the commit: with a listener, Node queues them for the event loop,
  // which the synchronous commit below does not yield to; they are acted on once it is done.
  const deferred: NodeJS.Signals[] = [];
  const defer = (signal: NodeJS.Signals) => deferred.push(signal);
  process.on('SIGINT', defer);
  process.on('SIGTERM', defer);
  try {
    commitSync(dir, changes, hook);
  } finally {
    // One turn of the event loop delivers a signal that arrived meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.off('SIGINT', defer);
    process.off('SIGTERM', defer);
    // The stack is whole (new, or old again): now the signal may stop the process.
    if (deferred.length > 0) process.kill(process.pid, deferred[0]);
  }
}

function commitSync(dir: string, changes: StackChanges, hook: StepHook): void {
  const writes = [...changes.writes, ...(changes.last ? [changes.last] : [])];
  // A run killed (SIGKILL) while staging left its staging folder: never part of the stack.
  for (const name of readdirSync(dir).filter(isStagingFolder)) rmSync(join(dir, name), { recursive: true, force: true });
  const staging = mkdtempSync(join(dir, STAGING_PREFIX));
  try {
    // A new file needs space: it is written in full here, before the stack is touched.
    writes.forEach((file, i) => {
      if (existsSync(join(dir, file.path))) return; // rewritten in place while applying
      hook(`stage ${file.path}`);
      const staged = join(staging, `new-${i}`);
      writeFileSync(staged, file.contents);
      // writeFileSync's mode is masked by the umask: set it exactly.
      chmodSync(staged, file.mode ?? 0o644);
    });
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }

  const undo: Undo[] = [];
  /** Creates a folder and the missing ones above it, remembering each for the undo. */
  const makeFolder = (path: string, mode = 0o755) => {
    if (existsSync(join(dir, path))) return;
    makeFolder(dirname(path));
    mkdirSync(join(dir, path), { mode });
    chmodSync(join(dir, path), mode);
    undo.push({ kind: 'created-folder', path });
  };
  const apply = (file: FileWrite, i: number) => {
    hook(`apply ${file.path}`);
    const target = join(dir, file.path);
    if (existsSync(target)) {
      // Rewritten in place, never replaced: a running container bind-mounts this very file (a bind
      // mount of one file follows its inode), and a reload must read the new contents.
      undo.push({ kind: 'rewritten', path: file.path, previous: readFileSync(target), mode: statSync(target).mode & 0o7777 });
      writeFileSync(target, file.contents);
      chmodSync(target, file.mode ?? 0o644);
    } else {
      makeFolder(dirname(file.path));
      renameSync(join(staging, `new-${i}`), target);
      undo.push({ kind: 'created', path: file.path });
    }
  };
  try {
    for (const folder of changes.folders) {
      hook(`folder ${folder.path}`);
      makeFolder(folder.path, folder.mode);
    }
    changes.writes.forEach(apply);
    for (const path of changes.deletes.filter((p) => existsSync(join(dir, p)))) {
      hook(`delete ${path}`);
      const backup = join(staging, `old-${undo.length}`);
      renameSync(join(dir, path), backup);
      undo.push({ kind: 'removed', path, backup });
    }
    if (changes.last) apply(changes.last, writes.length - 1);
  } catch (error) {
    rollBack(dir, undo);
    throw error;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Undoes apply, newest step first: every file and folder as it was before this run. */
function rollBack(dir: string, undo: Undo[]): void {
  for (const step of [...undo].reverse()) {
    const target = join(dir, step.path);
    switch (step.kind) {
      case 'created-folder':
        rmSync(target, { recursive: true, force: true });
        break;
      case 'created':
        rmSync(target, { force: true });
        break;
      case 'rewritten':
        // The old contents fit where the new ones were written.
        writeFileSync(target, step.previous);
        chmodSync(target, step.mode);
        break;
      case 'removed':
        renameSync(step.backup, target);
        break;
    }
  }
}

/**
 * Tests stop a run at a chosen step of the commit: GRAFANA_HA_FAULT="fail:<step>" makes that step
 * throw (like a full disk), "SIGTERM:<step>" or "SIGINT:<step>" sends the signal there. Steps are
 * named "stage <path>", "apply <path>", "delete <path>", "folder <path>"; "trace" prints each.
 */
export function faultInjection(): StepHook | undefined {
  const spec = process.env.GRAFANA_HA_FAULT;
  if (!spec) return undefined;
  if (spec === 'trace') return (step) => void process.stderr.write(`commit step: ${step}\n`);
  const [what, ...rest] = spec.split(':');
  const at = rest.join(':');
  return (step) => {
    if (step !== at) return;
    if (what === 'fail') throw Object.assign(new Error(`ENOSPC: no space left on device (injected at ${step})`), { code: 'ENOSPC' });
    process.kill(process.pid, what as NodeJS.Signals);
  };
}
