/**
 * Runs the stack's real programs from the Debian tree built by lab/toolchain.sh
 * (same major.minor as the images the stack pins), in a private mount
 * namespace so the tree's /dev and /etc/hosts can be set per run.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
/** The Debian tree lab/toolchain.sh builds (same major.minor as the pinned images). */
export const TOOLCHAIN = process.env.GGHA_TOOLCHAIN ?? '/var/cache/generator-grafana-ha/forky';

/** Why the real-program tests cannot run here, or undefined when they can. */
export function toolchainMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (chroot and mount namespaces need it)';
  if (!existsSync(join(TOOLCHAIN, '.ggha-toolchain'))) return `no toolchain at ${TOOLCHAIN}: run \`npm run toolchain\` as root`;
  return undefined;
}

/** `describe` that skips loudly when the toolchain is missing (CI always has it). */
export function describeWithToolchain(name: string, body: () => void) {
  const missing = toolchainMissing();
  if (missing) {
    console.warn(`\n!!! SKIPPING "${name}": ${missing}\n`);
    describe.skip(name, body);
  } else {
    describe(name, body);
  }
}

export interface ToolRun {
  status: number | null;
  output: string;
}

/**
 * Copies `stackDir` into the tree and runs `command` there, from inside the
 * copied stack folder. `hosts` maps names to addresses for /etc/hosts.
 */
export function runInToolchain(
  stackDir: string,
  command: string[],
  options: { env?: Record<string, string>; hosts?: Record<string, string> } = {},
): ToolRun {
  const workDir = mkdtempSync(join(TOOLCHAIN, 'tmp', 'ggha-check-'));
  try {
    cpSync(stackDir, workDir, { recursive: true });
    const hostsFile = join(workDir, '.hosts');
    const hostLines = Object.entries(options.hosts ?? {}).map(([name, ip]) => `${ip} ${name}`);
    writeFileSync(hostsFile, ['127.0.0.1 localhost', ...hostLines, ''].join('\n'));
    const inTree = workDir.slice(TOOLCHAIN.length);
    const env = Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const script = [
      'set -e',
      `mount --bind /dev "${TOOLCHAIN}/dev"`,
      `mount --bind /proc "${TOOLCHAIN}/proc"`,
      `mount --bind "${hostsFile}" "${TOOLCHAIN}/etc/hosts"`,
      `exec chroot "${TOOLCHAIN}" /usr/bin/env -C "${inTree}" "$@"`,
    ].join('\n');
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...env, ...command], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}
