/**
 * The Yeoman glue, kept thin: collect raw values (stored answers, options,
 * prompts), hand them to the pure pipeline, write what it returns.
 *
 *   answers/options ─► validateAnswers ─► buildTopology ─► renderStack ─► files
 */
import Generator from 'yeoman-generator';
import { constants, existsSync, mkdirSync, readFileSync, type Stats } from 'node:fs';
import { answersToStore, checkOne, ConfigError, validateAnswers, type ValidatedAnswers } from './config.js';
import { describePlan, planRerun, type Rerun } from './plan.js';
import { applies, QUESTIONS, type Answers, type Question } from './questions.js';
import { firstStartCommands, renderStack, type GeneratedFile } from './render/index.js';
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
function validateStored(stored: Record<string, unknown>): ValidatedAnswers {
  try {
    return validateAnswers(stored, { stored: true });
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(error.problems.map((p) => `.yo-rc.json: ${p}`));
    throw error;
  }
}

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
  configuring() {
    const options = this.options as Record<string, unknown>;
    const stored = this.config.getAll() as Record<string, unknown>;
    const before = Object.keys(stored).length > 0 ? validateStored(stored) : undefined;
    // An etcd cluster never moves its data: the run keeps the layout the stack has (for one generated
    // before the layout was recorded, the volume root), for its new members too.
    const raw = before?.answers.dbMode === 'patroni' ? { ...this.raw, etcdDataDir: before.history.etcdDataDir } : this.raw;
    const { answers, history, warnings } = validateAnswers(raw);
    const topology = buildTopology(answers, history);
    const files = renderStack(topology);
    const onDisk = (path: string) => readIfExists(this.destinationPath(path));

    const previous = before && buildTopology(before.answers, before.history);
    const rerun = previous && planRerun(previous, topology, files, onDisk);
    if (rerun && rerun.plan.refusals.length > 0 && !options.force) {
      throw new ConfigError(rerun.plan.refusals, 'This change cannot be applied to the running stack');
    }

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
    this.stack = { topology, files, rerun, secretWrites: secrets.writes };
    // Re-runs read the CA certificate from the stack's own copy.
    const caCert = topology.grafana.database.caCert;
    this.config.set(answersToStore(caCert ? { ...answers, dbCaFile: caCert.file } : answers, history));
  }

  writing() {
    const { topology, files, rerun, secretWrites } = this.stack!;
    if (rerun) this.log.info(describePlan(rerun.plan));
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
    if (secretWrites.length > 0) {
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

  end() {
    const { topology, rerun } = this.stack!;
    if (rerun) {
      this.log.ok('Stack updated. Apply the change with the commands listed above, in order.');
    } else {
      this.log.ok(`Stack written. Start it with: ${firstStartCommands(topology).join(' && ')}`);
    }
    this.log.info(`Open ${topology.grafana.publicUrl} (load balancer: ${topology.loadBalancer.kind}).`);
  }
}
