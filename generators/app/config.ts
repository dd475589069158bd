/**
 * Step 1 of the pipeline: raw values (CLI options, prompt answers, a stored or
 * hand-edited `.yo-rc.json`) → one validated `Answers` object. Every value goes
 * through the same coercion and validation whatever its source, and all
 * problems are reported together.
 */
import { applies, ETCD_SIZES, QUESTIONS, type AnswerName, type Answers, type Question } from './questions.js';
import { GRAFANA_OLDEST_SUPPORTED } from './catalog.js';
import { DATABASE_MODES, DEPLOY_TARGETS } from './kinds/index.js';
import { ETCD_DATA_DIRS, type EtcdDataDir, type StackHistory } from './kinds/patroni.js';

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    title = 'Invalid configuration',
  ) {
    super(`${title}. Nothing was written:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface ValidatedAnswers {
  answers: Answers;
  /** Recorded next to the answers in `.yo-rc.json`; derived from them on a first run. */
  history: StackHistory;
  /** Valid but worth telling the user (e.g. a setup that is not highly available). */
  warnings: string[];
}

type Coerced = { value: unknown } | { problem: string };

/**
 * Options arrive as strings, prompts as either, and are coerced. `exact`: `.yo-rc.json` holds JSON
 * values, which must already have the right type (a "3" there is an error, not a 3).
 */
export function coerce(question: Pick<Question, 'kind'>, raw: unknown, exact = false): Coerced {
  switch (question.kind) {
    case 'integer': {
      const n = !exact && typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : raw;
      return typeof n === 'number' && Number.isInteger(n)
        ? { value: n }
        : { problem: exact ? 'must be a JSON integer' : 'must be a whole number' };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      if (exact) return { problem: 'must be JSON true or false' };
      if (raw === 'true' || raw === 'yes') return { value: true };
      if (raw === 'false' || raw === 'no') return { value: false };
      return { problem: 'must be true or false' };
    }
    case 'string':
      return typeof raw === 'string' ? { value: raw.trim() } : { problem: exact ? 'must be a JSON string' : 'must be text' };
  }
}

const describe = (q: Question) => `--${q.option} (${q.name})`;

/** Coerce then validate one value; prompts use this too, so every source is checked alike. */
export function checkOne(question: Question, raw: unknown, answers: Partial<Answers>, exact = false): Coerced {
  const coerced = coerce(question, raw, exact);
  if ('problem' in coerced) return coerced;
  const validate = question.validate as (v: unknown, a: Partial<Answers>) => string | undefined;
  const problem = validate(coerced.value, answers);
  return problem ? { problem } : coerced;
}

/**
 * The answers a stack recorded in `stored` (its `.yo-rc.json`) had without recording them, because
 * their questions came later (`recordedBefore`): a re-run starts from these, not from the defaults.
 */
export function answersRecordedBefore(stored: Record<string, unknown>): Record<string, unknown> {
  if (Object.keys(stored).length === 0) return {};
  return Object.fromEntries(
    (QUESTIONS as readonly Question[])
      // Only where it applied: a single-server stack moving to Patroni gets the default.
      .filter((q) => q.recordedBefore !== undefined && stored[q.name] === undefined && applies(q, stored as Partial<Answers>))
      .map((q) => [q.name, q.recordedBefore]),
  );
}

/** The history fields `.yo-rc.json` keeps next to the answers. */
const HISTORY_FIELDS: readonly (keyof StackHistory)[] = ['etcdFoundingMembers', 'etcdDataDir'];
const ETCD_DATA_DIR_VALUES: readonly string[] = Object.values(ETCD_DATA_DIRS);

/**
 * Validate merged raw values. Missing values take the question's default;
 * unknown keys (a typo in `.yo-rc.json`) are errors, not silently ignored.
 *
 * `stored`: `raw` is the `.yo-rc.json` of an existing stack, whose values must have their exact JSON
 * types. A Patroni stack recorded without `etcdDataDir` was generated before the layout was
 * recorded: its members keep the volume root. `options`: the values given as CLI options.
 */
export function validateAnswers(
  raw: Record<string, unknown>,
  { stored = false, options = {} }: { stored?: boolean; options?: Record<string, unknown> } = {},
): ValidatedAnswers {
  const problems: string[] = [];
  const known = new Set<string>([...QUESTIONS.map((q) => q.name), ...HISTORY_FIELDS]);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) problems.push(`unknown setting "${key}" (known: ${[...known].join(', ')})`);
  }

  const recordedRaw = stored ? { ...answersRecordedBefore(raw), ...raw } : raw;
  const answers: Partial<Record<AnswerName, unknown>> = {};
  for (const q of QUESTIONS as readonly Question[]) {
    const soFar = answers as Partial<Answers>;
    if (!applies(q, soFar)) {
      // Given as an option for a stack it does not apply to (--db-host without --db-mode external):
      // an error like any bad input, never silently ignored.
      if (options[q.name] !== undefined) {
        const context = Object.values(DEPLOY_TARGETS).some((target) => target.asks.includes(q.name))
          ? `--deploy-target ${soFar.deployTarget}`
          : soFar.dbMode === 'external'
            ? `--db-mode external, --db-ssl-mode ${soFar.dbSslMode}`
            : `--db-mode ${soFar.dbMode}`;
        problems.push(`--${q.option}: does not apply to this stack (${context}); leave it out`);
      }
      answers[q.name] = q.default(soFar);
      continue;
    }
    // A default is checked like any value: an empty one means the answer is required here.
    const given = recordedRaw[q.name] ?? q.default(soFar);
    const checked = checkOne(q, given, soFar, stored && raw[q.name] !== undefined);
    if ('problem' in checked) problems.push(`${describe(q)}: ${checked.problem} (got ${JSON.stringify(given)})`);
    else answers[q.name] = checked.value;
  }
  const founders = raw.etcdFoundingMembers;
  if (founders !== undefined && (typeof founders !== 'number' || !ETCD_SIZES.includes(founders))) {
    problems.push(
      `etcdFoundingMembers (recorded in .yo-rc.json): must be one of ${ETCD_SIZES.join(', ')} (got ${JSON.stringify(founders)})`,
    );
  }
  const dataDir = raw.etcdDataDir;
  if (dataDir !== undefined && (typeof dataDir !== 'string' || !ETCD_DATA_DIR_VALUES.includes(dataDir))) {
    problems.push(
      `etcdDataDir (recorded in .yo-rc.json): must be one of ${ETCD_DATA_DIR_VALUES.join(', ')} (got ${JSON.stringify(dataDir)}); ` +
        "it is where this stack's etcd members keep their data, and must not change once they have started",
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const valid = answers as Answers;
  const history: StackHistory = {
    // After a shrink the founders beyond the new size are gone: a member re-added there joins an existing cluster.
    etcdFoundingMembers: Math.min((founders as number | undefined) ?? valid.etcdMembers, valid.etcdMembers),
    etcdDataDir:
      (dataDir as EtcdDataDir | undefined) ?? (stored && valid.dbMode === 'patroni' ? ETCD_DATA_DIRS.volumeRoot : ETCD_DATA_DIRS.current),
  };
  return { answers: valid, history, warnings: warningsFor(valid) };
}

/** Whether `version` (major.minor.patch) is older than `floor`. */
const olderThan = (version: string, floor: string) => {
  const [a, b] = [version, floor].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) {
    const [x, y] = [a?.[i] ?? 0, b?.[i] ?? 0];
    if (x !== y) return x < y;
  }
  return false;
};

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function warningsFor(a: Answers): string[] {
  const warnings: string[] = [];
  if (a.httpPort < 1024) {
    warnings.push(
      `--http-port ${a.httpPort}: below 1024, which rootless Docker cannot publish (unless net.ipv4.ip_unprivileged_port_start allows it).`,
    );
  }
  const url = new URL(a.publicUrl);
  const urlPort = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (LOCAL_HOSTS.has(url.hostname) && urlPort !== a.httpPort) {
    warnings.push(
      `--public-url ${a.publicUrl} is on this machine, port ${urlPort}, but the stack publishes port ${a.httpPort}: links and redirects will point elsewhere.`,
    );
  }
  if (a.deployTarget === 'swarm' && LOCAL_HOSTS.has(url.hostname)) {
    warnings.push(
      `--public-url ${a.publicUrl} is on this machine, but a swarm stack is reached through its load balancers' hosts: give the name users open (DNS, VIP or cloud load balancer in front).`,
    );
  }
  if (olderThan(a.grafanaVersion, GRAFANA_OLDEST_SUPPORTED)) {
    warnings.push(
      `--grafana-version ${a.grafanaVersion} is older than ${GRAFANA_OLDEST_SUPPORTED}, the oldest this generator supports: its settings may not apply.`,
    );
  }
  if (a.grafanaReplicas === 1) warnings.push('1 Grafana replica is not highly available: a crash or upgrade means downtime.');
  warnings.push(...DATABASE_MODES[a.dbMode].warnings(a));
  return warnings;
}

/**
 * What `.yo-rc.json` keeps: the answers that apply to this stack (no Patroni
 * settings for an external database) and its history. Never secrets.
 */
export function answersToStore(answers: Answers, history: StackHistory): Record<string, unknown> {
  const stored: Record<string, unknown> = {};
  for (const q of QUESTIONS as readonly Question[]) {
    if (applies(q, answers)) stored[q.name] = answers[q.name];
  }
  if (answers.dbMode === 'patroni') {
    stored.etcdFoundingMembers = history.etcdFoundingMembers;
    stored.etcdDataDir = history.etcdDataDir;
  }
  return stored;
}
