/**
 * The Yeoman glue, kept thin: collect raw values (stored answers, options,
 * prompts), hand them to the pure pipeline, write what it returns.
 *
 *   answers/options ─► validateAnswers ─► buildTopology ─► renderStack ─► files
 */
import Generator from 'yeoman-generator';
import { YoResolve } from '@yeoman/conflicter';
import { constants, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, type Stats } from 'node:fs';
import { answersToStore, checkOne, ConfigError, validateAnswers, type ValidatedAnswers } from './config.js';
import { describePlan, planRerun, type Rerun } from './plan.js';
import { applies, QUESTIONS, type Answers, type Question } from './questions.js';
import { firstStartCommands, renderStack, type GeneratedFile } from './render/index.js';
import { parseRecord, RECORD_FILE, recordText, sha256, type GenerationRecord } from './record.js';
import { planSecrets, SECRET_FILE_MODE, SECRETS_DIR_MODE, type SecretWrite } from './secrets.js';
import { buildTopology, SECRETS, SECRETS_DIR, type Topology } from './topology.js';

/**
 * mem-fs-editor applies the mode of a Stats-like object on commit; the conflict
 * check compares it with the file on disk, type bits included.
 */
const withMode = (mode?: number) => (mode === undefined ? undefined : { stat: { mode: constants.S_IFREG | mode } as Stats });

const readIfExists = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

/** `--db-password-file`: the password is the file's first line. */
function readPasswordFile(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return undefined;
  const password = readIfExists(path)?.split(/\r?\n/)[0];
  if (!password) throw new ConfigError([`--db-password-file ${path}: must be a readable file whose first line is the password`]);
  return password;
}

/** The answers of the previous run; a hand-edited `.yo-rc.json` is validated like any input. */
function validateStored(stored: Record<string, unknown>, file = '.yo-rc.json'): ValidatedAnswers {
  try {
    return validateAnswers(stored, { stored: true });
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(error.problems.map((p) => `${file}: ${p}`));
    throw error;
  }
}

/** etcdFoundingMembers and etcdDataDir describe the cluster's past: a hand edit cannot change it. */
function refuseEditedHistory(stored: ValidatedAnswers, recorded: ValidatedAnswers) {
  if (stored.answers.dbMode !== 'patroni' || recorded.answers.dbMode !== 'patroni') return;
  const problems = (Object.keys(recorded.history) as (keyof ValidatedAnswers['history'])[])
    .filter((field) => stored.history[field] !== recorded.history[field])
    .map((field) => `.yo-rc.json: ${field} ${JSON.stringify(stored.history[field])} is not what this stack has (${JSON.stringify(recorded.history[field])}, in ${RECORD_FILE}): it records the cluster's past, which no answer changes. Put it back.`);
  if (problems.length > 0) throw new ConfigError(problems);
}

/** The record of the last complete generation, if the stack has one; a damaged one is refused. */
function readRecord(text: string | undefined): GenerationRecord | undefined {
  if (text === undefined) return undefined;
  const parsed = parseRecord(text);
  if ('problem' in parsed) throw new ConfigError([parsed.problem], 'The record of the last generation cannot be trusted');
  return parsed.record;
}

/** The generator's own version, recorded with each generation. */
const GENERATOR_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `yo` passes options as typed (`grafana-replicas`), the bin's command line camel-cased (`grafanaReplicas`). */
const optionValue = (options: Record<string, unknown>, kebab: string): unknown =>
  options[kebab] ?? options[kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];

/** Values given as CLI options, keyed by answer name. */
function optionValues(options: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const q of QUESTIONS) {
    const value = optionValue(options, q.option);
    if (value !== undefined) given[q.name] = value;
  }
  return given;
}

/**
 * Names a stack of ours always has, or that Compose would read: a first run into a folder holding
 * any of them (and no .yo-rc.json) is refused before a question is asked.
 */
const STACK_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml', 'README.md', 'grafana', 'lb', 'secrets', 'scripts'];

/** Yeoman asks before replacing a changed file; this one is written without the question. */
const skipConflictQuestion = (fs: Generator['fs'], path: string) => {
  (fs.store.get(path) as { conflicter?: string }).conflicter = 'force';
};

/** One table entry → one Inquirer question; `known` holds stored and option values. */
function toPrompt(q: Question, known: Record<string, unknown>) {
  const merged = (answers: Record<string, unknown>) => ({ ...known, ...answers }) as Partial<Answers>;
  return {
    name: q.name,
    message: q.message,
    type: q.choices ? 'select' : q.kind === 'boolean' ? 'confirm' : q.kind === 'integer' ? 'number' : 'input',
    choices: q.choices?.map((c) => ({ name: String(c), value: c })),
    default: (answers: Record<string, unknown>) => known[q.name] ?? q.default(merged(answers)),
    when: (answers: Record<string, unknown>) => applies(q, merged(answers)),
    validate: (value: unknown, answers: Record<string, unknown>) => {
      const checked = checkOne(q, value, merged(answers));
      return 'problem' in checked ? checked.problem : true;
    },
  };
}

/**
 * A file the user edited is replaced only with --force, a .yo-resolve entry, or a yes at Yeoman's
 * question. Without a terminal there is no question to ask: refuse before anything is written.
 * (yeoman-test's adapter answers questions like a terminal, so it counts as one.)
 */
async function refuseUnresolvableConflicts(conflicts: string[], options: Record<string, unknown>, interactive: boolean, pathOf: (p: string) => string) {
  if (conflicts.length === 0 || options.force || interactive) return;
  const yoResolve = new YoResolve();
  const unresolved: string[] = [];
  for (const path of conflicts) {
    const status = options.skipYoResolve ? undefined : await yoResolve.getStatusForFile(pathOf(path));
    if (!status) unresolved.push(path);
  }
  if (unresolved.length === 0) return;
  throw new ConfigError(
    [
      `you edited ${unresolved.join(', ')} since the last run, and this run would change ${unresolved.length === 1 ? 'it' : 'them'}; there is no terminal to ask you. Either:`,
      `run again in a terminal, which asks file by file (and shows the difference)`,
      `run again with --force: the generated version replaces your edits`,
      `list each in a .yo-resolve file in this folder (\`${unresolved[0]} skip\` keeps your version, \`${unresolved[0]} force\` takes the new one)`,
    ],
    'Files you edited would change',
  );
}

/** Yeoman's --dry-run: the commit shows what would change and writes nothing; neither may we. */
const isDryRun = (options: Record<string, unknown>) => Boolean(options.dryRun);

// Yeoman runs every public method of the class as a task, in its run-loop order.
export default class GrafanaHaGenerator extends Generator {
  private raw: Record<string, unknown> = {};
  private externalDbPassword?: string;
  private stack?: {
    topology: Topology;
    files: GeneratedFile[];
    /** Set on a re-run over an existing stack. */
    rerun?: Rerun;
    secretWrites: SecretWrite[];
    /** What `.yo-rc.json` and the record keep: the answers and history of this run. */
    toStore: Record<string, unknown>;
  };

  constructor(args: string[], options: Record<string, unknown>) {
    // A Compose stack has no npm packages to install.
    super(args, options as never, { customInstallTask: true });
    for (const q of QUESTIONS as readonly Question[]) {
      const choices = q.choices ? ` [${q.choices.join('|')}]` : '';
      // Every answer option takes a value as text (`--synchronous-replication false`); validation coerces it.
      this.option(q.option, { type: String, description: `${q.help}${choices}` });
    }
    this.option('defaults', {
      type: Boolean,
      description: 'Ask nothing: take each value from its option, then .yo-rc.json, then the default',
    });
    this.option('db-password-file', {
      type: String,
      description: "external mode: file holding the password of Grafana's database role (copied into secrets/)",
    });
    this.option('create-missing-secrets', {
      type: Boolean,
      description: 'On a re-run, create secrets whose files are missing (only for a stack that has never been started)',
    });
  }

  /** A first run into a folder that holds something else says so before asking anything. */
  initializing() {
    if (Object.keys(this.config.getAll()).length > 0 || existsSync(this.destinationPath(RECORD_FILE))) return;
    const found = STACK_NAMES.filter((name) => existsSync(this.destinationPath(name)));
    if (found.length > 0) {
      throw new ConfigError(
        [`${this.destinationPath()} is not a grafana-ha stack (no .yo-rc.json) but already holds ${found.join(', ')}: run the generator in an empty folder, or in a stack it generated.`],
        'Refusing to generate into this folder',
      );
    }
  }

  async prompting() {
    const options = this.options as Record<string, unknown>;
    const stored = this.config.getAll() as Record<string, unknown>;
    const fromOptions = optionValues(options);
    if (options.defaults) {
      this.raw = { ...stored, ...fromOptions };
      return;
    }
    const questions = (QUESTIONS as readonly Question[])
      .filter((q) => fromOptions[q.name] === undefined)
      .map((q) => toPrompt(q, { ...stored, ...fromOptions }));
    const prompted = await this.prompt(questions as never);
    this.raw = { ...stored, ...prompted, ...fromOptions };

    // An external database's password: asked, never stored in .yo-rc.json, written only to its secret file.
    const passwordFile = this.destinationPath(SECRETS.grafanaDb.file);
    if (this.raw.dbMode === 'external' && !optionValue(options, 'db-password-file') && !existsSync(passwordFile)) {
      const { dbPassword } = await this.prompt<{ dbPassword: string }>({
        type: 'password',
        name: 'dbPassword',
        message: "Password of Grafana's role on the external database",
        mask: '*',
      } as never);
      this.externalDbPassword = dbPassword;
    }
  }

  /**
   * Validation runs here for every source (yeoman-test's mocked answers skip
   * prompt validation), and so does every check of a re-run: nothing has been
   * written yet when one of them fails.
   */
  async configuring() {
    const options = this.options as Record<string, unknown>;
    const stored = this.config.getAll() as Record<string, unknown>;
    const onDisk = (path: string) => readIfExists(this.destinationPath(path));
    // The plan compares with the last complete generation; a stack older than records, with its .yo-rc.json.
    const record = readRecord(onDisk(RECORD_FILE));
    // .yo-rc.json is input, validated like any (a hand edit included), and may change the answers;
    // the history it repeats is the record's, which no edit changes.
    const storedAnswers = Object.keys(stored).length > 0 ? validateStored(stored) : undefined;
    const before = record ? validateStored(record.stored, RECORD_FILE) : storedAnswers;
    if (record && storedAnswers) refuseEditedHistory(storedAnswers, before!);
    // An etcd cluster never moves its data: the run keeps the layout the stack has (for one generated
    // before the layout was recorded, the volume root), for its new members too.
    const raw = before?.answers.dbMode === 'patroni' ? { ...this.raw, etcdDataDir: before.history.etcdDataDir } : this.raw;
    const { answers, history, warnings } = validateAnswers(raw);
    const topology = buildTopology(answers, history);
    const files = renderStack(topology);

    const previous = before && buildTopology(before.answers, before.history);
    const rerun = previous && planRerun(previous, topology, files, onDisk, record?.files);
    if (rerun && rerun.plan.refusals.length > 0 && !options.force) {
      throw new ConfigError(rerun.plan.refusals, 'This change cannot be applied to the running stack');
    }
    const interactive = Boolean(process.stdin.isTTY) || this.env.adapter.constructor.name === 'TestAdapter';
    if (rerun) await refuseUnresolvableConflicts(rerun.conflicts, options, interactive, (p) => this.destinationPath(p));

    const passwordFile = optionValue(options, 'db-password-file');
    if (passwordFile && topology.database.mode !== 'external') {
      throw new ConfigError(['--db-password-file: only for --db-mode external; the stack generates its own database passwords']);
    }
    const password = this.externalDbPassword ?? readPasswordFile(passwordFile);
    const secrets = planSecrets({
      specs: topology.secrets,
      exists: (file) => onDisk(file) !== undefined,
      provided: password === undefined ? {} : { grafanaDb: password },
      previous: previous?.secrets,
      createMissing: Boolean(optionValue(options, 'create-missing-secrets')),
    });
    if (secrets.problems.length > 0) throw new ConfigError(secrets.problems, 'Secrets are missing');

    for (const warning of warnings) this.log.conflict(`Warning: ${warning}`);
    // Re-runs read the CA certificate from the stack's own copy.
    const caCert = topology.grafana.database.caCert;
    const toStore = answersToStore(caCert ? { ...answers, dbCaFile: caCert.file } : answers, history);
    this.stack = { topology, files, rerun, secretWrites: secrets.writes, toStore };
  }

  writing() {
    const { topology, files, rerun, secretWrites, toStore } = this.stack!;
    if (rerun) this.log.info(describePlan(rerun.plan));
    this.config.set(toStore);
    for (const file of files) {
      const path = this.destinationPath(file.path);
      this.fs.write(path, file.contents, withMode(file.mode));
      // Only files the user edited deserve the conflict question.
      if (rerun?.replaceSilently.has(file.path)) skipConflictQuestion(this.fs, path);
    }
    for (const path of rerun?.stale ?? []) {
      this.fs.delete(this.destinationPath(path));
      skipConflictQuestion(this.fs, this.destinationPath(path));
    }
    const caCert = topology.grafana.database.caCert;
    if (caCert && this.destinationPath(caCert.source) !== this.destinationPath(caCert.file)) {
      this.fs.copy(this.destinationPath(caCert.source), this.destinationPath(caCert.file));
    }
    if (secretWrites.length > 0 && !isDryRun(this.options as Record<string, unknown>)) {
      // Created owner-only before any secret lands in it (mem-fs would create it 0755).
      mkdirSync(this.destinationPath(SECRETS_DIR), { recursive: true, mode: SECRETS_DIR_MODE });
    }
    for (const { spec, value } of secretWrites) {
      const path = this.destinationPath(spec.file);
      const replacing = existsSync(path);
      this.fs.write(path, value, withMode(SECRET_FILE_MODE));
      // A password the user just gave replaces the old one without a conflict prompt, whose diff would print it.
      if (replacing) skipConflictQuestion(this.fs, path);
    }
  }

  /**
   * After Yeoman has written the files: the record of this generation, last, and only when every
   * file is as generated. A file kept at the conflict question leaves the previous record, so the
   * next run plans the same change again.
   */
  end() {
    const { topology, files, rerun, toStore } = this.stack!;
    if (isDryRun(this.options as Record<string, unknown>)) {
      this.log.info('Dry run: nothing was written.');
      return;
    }
    const kept = files.filter((f) => readIfExists(this.destinationPath(f.path)) !== f.contents).map((f) => f.path);
    if (kept.length > 0) {
      throw new Error(
        `Not applied: you kept your version of ${kept.join(', ')}. The stack is NOT updated: the other files are written, ` +
          'but this generation is not recorded, so the next run shows the same change and commands again. Do not apply them until then.',
      );
    }
    const record: GenerationRecord = { generator: GENERATOR_VERSION, stored: toStore, files: Object.fromEntries(files.map((f) => [f.path, sha256(f.contents)])) };
    const path = this.destinationPath(RECORD_FILE);
    writeFileSync(`${path}.tmp`, recordText(record));
    renameSync(`${path}.tmp`, path);
    if (rerun) {
      this.log.ok('Stack updated. Apply the change with the commands listed above, in order.');
    } else {
      this.log.ok(`Stack written. Start it with: ${firstStartCommands(topology).join(' && ')}`);
    }
    this.log.info(`Open ${topology.grafana.publicUrl} (load balancer: ${topology.loadBalancer.kind}).`);
  }
}
