/**
 * `docker compose` against a running stack lab, so that the commands the
 * generator prints (a re-run's plan, the README's "Growing the stack",
 * scripts/etcd-add-member.sh) run literally, from the stack folder, through a
 * `docker` program on PATH (docker-shim.ts) that forwards them here over a Unix
 * socket.
 *
 * What each command does, as Compose does it on an engine:
 *  - `exec [-T] [-u user] [-e K=V] svc cmd…`: StackLab.composeExec (the
 *    container's environment only, the image's user).
 *  - `up [-d] [--no-deps] [--build] [--force-recreate] [--no-recreate] [--wait]
 *    [--remove-orphans] [svc…]`: compose.yaml is re-read first (new services get
 *    their namespace); without --no-deps the services' dependencies are
 *    included, and a dependency with `service_healthy` is waited for before its
 *    dependents start; a stopped service starts; a running one is recreated
 *    (stop + start) with --force-recreate, or when its definition changed unless
 *    --no-recreate (Compose's config hash, without depends_on); --wait waits for
 *    each started service's healthcheck, run on Docker's schedule (first check
 *    one interval after the start); --remove-orphans stops running services
 *    compose.yaml no longer names. --build: the image's files are bind-mounted
 *    and re-read from the build context at each start.
 *  - `kill [-s SIG] [svc…]`, `stop`, `start`, `restart`, `rm -s -f svc…`.
 * Anything else is refused with exit code 2, so an unexpected command fails the
 * test instead of being skipped.
 */
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrder } from './compose-model.js';
import { sleep, shq, waitFor } from './shell.js';
import { REPO_ROOT, type StackLab } from './stack-lab.js';

export interface ComposeCli {
  /** Folder holding the `docker` program: put it first on PATH. */
  binDir: string;
  /** Environment for the commands' subprocesses (PATH and the socket). */
  env: NodeJS.ProcessEnv;
  /** Every command received, with its exit code and duration. */
  history: { argv: string[]; code: number; ms: number }[];
  close(): Promise<void>;
}

interface Reply {
  code: number;
  stdout: string;
  stderr: string;
}

class Refused extends Error {}

export async function serveComposeCli(lab: StackLab, log: (line: string) => void = () => {}): Promise<ComposeCli> {
  const dir = mkdtempSync(join(tmpdir(), 'ggha-docker-'));
  const socketPath = join(dir, 'docker.sock');
  const binDir = join(dir, 'bin');
  mkdirSync(binDir);
  const docker = join(binDir, 'docker');
  writeFileSync(docker, `#!/bin/sh\nexec ${shq(process.execPath)} ${shq(join(REPO_ROOT, 'dist/lab/docker-shim.js'))} "$@"\n`);
  chmodSync(docker, 0o755);
  const history: ComposeCli['history'] = [];
  // One command at a time, like a user typing them.
  let queue: Promise<unknown> = Promise.resolve();
  const server: Server = createServer((conn) => {
    let request = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk) => {
      request += chunk;
      if (!request.includes('\n')) return;
      const { argv, cwd } = JSON.parse(request.slice(0, request.indexOf('\n'))) as { argv: string[]; cwd: string };
      const started = Date.now();
      const task = queue.then(() => handle(lab, argv, cwd, log));
      queue = task.catch(() => {});
      task.then(
        (r) => r,
        (e: Error): Reply => ({ code: e instanceof Refused ? 2 : 1, stdout: '', stderr: `docker (stack lab): ${e.message}\n` }),
      ).then((r) => {
        history.push({ argv, code: r.code, ms: Date.now() - started });
        log(`docker ${argv.join(' ')} → ${r.code} (${Date.now() - started} ms)`);
        conn.end(JSON.stringify(r));
      });
    });
    conn.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    binDir,
    env: { ...process.env, PATH: `${binDir}:${process.env.PATH}`, GGHA_LAB_DOCKER_SOCK: socketPath },
    history,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const ok = (stdout = ''): Reply => ({ code: 0, stdout, stderr: '' });

async function handle(lab: StackLab, argv: string[], cwd: string, log: (l: string) => void): Promise<Reply> {
  if (argv[0] !== 'compose') throw new Refused(`only \`docker compose …\` is available in the lab, not \`docker ${argv.join(' ')}\``);
  if (realpathSync(cwd) !== realpathSync(lab.model.dir)) throw new Refused(`run from the stack folder ${lab.model.dir} (not ${cwd})`);
  const [sub, ...rest] = argv.slice(1);
  switch (sub) {
    case 'exec':
      return exec(lab, rest);
    case 'up':
      return up(lab, rest, log);
    case 'kill': {
      const { flags, values, args } = parse(rest, [], ['-s', '--signal']);
      void flags;
      const sig = normaliseSignal(values['-s'] ?? values['--signal'] ?? 'KILL');
      for (const s of targets(lab, args)) {
        if (sig === 'SIGKILL') await lab.kill(s);
        else lab.signalMain(s, sig);
      }
      return ok();
    }
    case 'stop':
    case 'restart':
    case 'start': {
      const { args } = parse(rest, [], ['-t', '--timeout']);
      for (const s of targets(lab, args)) {
        if (sub !== 'start' && lab.isRunning(s)) await lab.stop(s);
        if (sub !== 'stop' && !lab.isRunning(s)) await lab.startService(s);
      }
      return ok();
    }
    case 'rm': {
      const { flags, args } = parse(rest, ['-s', '--stop', '-f', '--force'], []);
      if (!flags.has('-f') && !flags.has('--force')) throw new Refused('rm needs -f in the lab (it cannot ask)');
      for (const s of args) if (lab.isRunning(s)) await lab.stop(s);
      return ok();
    }
    case 'build':
      return ok('lab: the image files are bind-mounted from the build context at each start; nothing to build\n');
    default:
      throw new Refused(`docker compose ${sub} is not available in the lab`);
  }
}

/** Splits options: `flags` take no value, `valued` take the next word (or `--x=v`). Unknown options are refused. */
function parse(words: string[], flags: string[], valued: string[], stopAtFirstArg = false) {
  const seen = new Set<string>();
  const values: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (args.length && stopAtFirstArg) {
      args.push(w);
      continue;
    }
    if (!w.startsWith('-')) {
      args.push(w);
      continue;
    }
    const [name, inline] = w.includes('=') ? [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)] : [w, undefined];
    if (flags.includes(name)) seen.add(name);
    else if (valued.includes(name)) {
      const v = inline ?? words[++i];
      values[name] = v;
      (multi[name] ??= []).push(v);
    } else throw new Refused(`option ${w} is not available in the lab`);
  }
  return { flags: seen, values, multi, args };
}

function targets(lab: StackLab, named: string[]): string[] {
  for (const s of named) lab.spec(s); // throws for an unknown service, like Compose
  return named.length ? named : lab.services();
}

function normaliseSignal(s: string): NodeJS.Signals {
  const upper = s.toUpperCase();
  return (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
}

async function exec(lab: StackLab, words: string[]): Promise<Reply> {
  const { values, multi, args } = parse(words, ['-T', '--no-TTY', '-d', '--detach'], ['-u', '--user', '-e', '--env', '-w', '--workdir'], true);
  const [service, ...cmd] = args;
  if (!service || !cmd.length) throw new Refused('usage: docker compose exec [-T] SERVICE COMMAND…');
  if (!lab.isRunning(service)) return { code: 1, stdout: '', stderr: `service "${service}" is not running\n` };
  const env = Object.fromEntries([...(multi['-e'] ?? []), ...(multi['--env'] ?? [])].map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  const user = values['-u'] ?? values['--user'];
  const r = await lab.composeExec(service, cmd, { user: user === undefined ? undefined : /^\d+$/.test(user) ? Number(user) : user, env });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

async function up(lab: StackLab, words: string[], log: (l: string) => void): Promise<Reply> {
  const { flags, values, args } = parse(
    words,
    ['-d', '--detach', '--no-deps', '--build', '--force-recreate', '--no-recreate', '--wait', '--remove-orphans', '--no-build', '--quiet-pull'],
    ['--wait-timeout', '-t', '--timeout'],
  );
  if (!flags.has('-d') && !flags.has('--detach') && !flags.has('--wait')) throw new Refused('up without -d would attach to the logs: use -d');
  await lab.reloadCompose();
  const named = targets(lab, args);
  const wanted = new Set(named);
  if (!flags.has('--no-deps')) {
    const add = (s: string) => lab.spec(s).dependsOn.forEach((d) => wanted.has(d.service) || (wanted.add(d.service), add(d.service)));
    [...wanted].forEach(add);
  }
  const started: string[] = [];
  const out: string[] = [];
  for (const wave of startOrder(lab.model)) {
    for (const spec of wave.filter((s) => wanted.has(s.name))) {
      const s = spec.name;
      if (lab.isRunning(s)) {
        const recreate = flags.has('--force-recreate') || (lab.definitionChanged(s) && !flags.has('--no-recreate'));
        if (!recreate) {
          out.push(`Container ${s}  Running`);
          continue;
        }
        await lab.stop(s);
        out.push(`Container ${s}  Recreated`);
      }
      if (!flags.has('--no-deps')) {
        for (const d of spec.dependsOn.filter((x) => x.condition === 'service_healthy')) await dockerWaitHealthy(lab, d.service, 180_000, started.includes(d.service));
      }
      await lab.startService(s);
      started.push(s);
      out.push(`Container ${s}  Started`);
    }
  }
  if (flags.has('--remove-orphans')) {
    for (const s of lab.runningServices().filter((r) => !lab.model.services.some((m) => m.name === r))) {
      await lab.stop(s);
      out.push(`Container ${s}  Removed (orphan)`);
    }
  }
  if (flags.has('--wait')) {
    const timeoutMs = 1000 * Number(values['--wait-timeout'] ?? 300);
    for (const s of [...wanted].filter((x) => lab.isRunning(x))) {
      await dockerWaitHealthy(lab, s, timeoutMs, started.includes(s));
      out.push(`Container ${s}  Healthy`);
    }
  }
  log(`up: started ${started.join(', ') || 'nothing'}`);
  return ok(out.join('\n') + '\n');
}

/**
 * Waits for a service to turn healthy the way Docker decides it: the check runs
 * one `interval` after the start, then every `interval` (a service without a
 * healthcheck counts once it runs).
 */
async function dockerWaitHealthy(lab: StackLab, service: string, timeoutMs: number, justStarted: boolean): Promise<void> {
  const hc = lab.spec(service).healthcheck;
  if (!hc) return;
  const every = Math.max(hc.intervalMs, 250);
  // A service that was already running has a health status already: no first interval to wait.
  let first = !justStarted;
  await waitFor(
    `${service} to be healthy`,
    async () => {
      if (!first) await sleep(every);
      first = false;
      return lab.healthcheck(service);
    },
    timeoutMs,
    0,
  );
}
