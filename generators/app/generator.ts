/**
 * The Yeoman glue, kept thin: collect raw values (stored answers, options,
 * prompts), hand them to the pure pipeline, write what it returns.
 *
 *   answers/options ─► validateAnswers ─► buildTopology ─► renderStack ─► files
 */
import Generator from 'yeoman-generator';
import { constants, existsSync, mkdirSync, readFileSync, type Stats } from 'node:fs';
import { checkOne, ConfigError, validateAnswers, type ValidatedAnswers } from './config.js';
import { describePlan, firstStartCommands, planChange, type ChangePlan } from './plan.js';
import { QUESTIONS, type Answers, type Question } from './questions.js';
import { renderStack, type GeneratedFile } from './render/index.js';
import { generateSecret, missingSecrets, SECRET_FILE_MODE, SECRETS_DIR_MODE } from './secrets.js';
import { buildTopology, SECRETS_DIR, type SecretSpec, type Topology } from './topology.js';

/**
 * mem-fs-editor applies the mode of a Stats-like object on commit; the conflict
 * check compares it with the file on disk, type bits included.
 */
const withMode = (mode?: number) => (mode === undefined ? undefined : { stat: { mode: constants.S_IFREG | mode } as Stats });

const readIfExists = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);

/** The answers of the previous run; a hand-edited `.yo-rc.json` is validated like any input. */
function validateStored(stored: Record<string, unknown>): ValidatedAnswers {
  try {
    return validateAnswers(stored);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(error.problems.map((p) => `.yo-rc.json: ${p}`));
    throw error;
  }
}

/** Values given as CLI options, keyed by answer name. */
function optionValues(options: Record<string, unknown>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const q of QUESTIONS) {
    // `yo` passes options as typed (`grafana-replicas`), the bin's command line camel-cased (`grafanaReplicas`).
    const value = options[q.option] ?? options[q.name];
    if (value !== undefined) given[q.name] = value;
  }
  return given;
}

/** One table entry → one Inquirer question; `known` holds stored and option values. */
function toPrompt(q: Question, known: Record<string, unknown>) {
  const merged = (answers: Record<string, unknown>) => ({ ...known, ...answers }) as Partial<Answers>;
  return {
    name: q.name,
    message: q.message,
    type: q.choices ? 'select' : q.kind === 'boolean' ? 'confirm' : q.kind === 'integer' ? 'number' : 'input',
    choices: q.choices?.map((c) => ({ name: String(c), value: c })),
    default: (answers: Record<string, unknown>) => known[q.name] ?? q.default(merged(answers)),
    when: (answers: Record<string, unknown>) => (q.when ? q.when(merged(answers)) : true),
    validate: (value: unknown, answers: Record<string, unknown>) => {
      const checked = checkOne(q, value, merged(answers));
      return 'problem' in checked ? checked.problem : true;
    },
  };
}

// Yeoman runs every public method of the class as a task, in its run-loop order.
export default class GrafanaHaGenerator extends Generator {
  private raw: Record<string, unknown> = {};
  private stack?: {
    topology: Topology;
    files: GeneratedFile[];
    /** Files an earlier run wrote, unedited, that this one no longer generates (e.g. pg-4.yml after a shrink). */
    stale: string[];
    /** Files on disk exactly as the previous run wrote them. */
    unedited: Set<string>;
    secretsToCreate: SecretSpec[];
    /** Set on a re-run over an existing stack. */
    plan?: ChangePlan;
  };

  constructor(args: string[], options: Record<string, unknown>) {
    super(args, options as never);
    for (const q of QUESTIONS as readonly Question[]) {
      const choices = q.choices ? ` [${q.choices.join('|')}]` : '';
      // Every answer option takes a value as text (`--synchronous-replication false`); validation coerces it.
      this.option(q.option, { type: String, description: `${q.help}${choices}` });
    }
    this.option('defaults', {
      type: Boolean,
      description: 'Ask nothing: take each value from its option, then .yo-rc.json, then the default',
    });
    this.option('create-missing-secrets', {
      type: Boolean,
      description: 'On a re-run, create secrets whose files are missing (only for a stack that has never been started)',
    });
  }

  async prompting() {
    const stored = this.config.getAll() as Record<string, unknown>;
    const fromOptions = optionValues(this.options as Record<string, unknown>);
    if ((this.options as Record<string, unknown>).defaults) {
      this.raw = { ...stored, ...fromOptions };
      return;
    }
    const questions = (QUESTIONS as readonly Question[])
      .filter((q) => fromOptions[q.name] === undefined)
      .map((q) => toPrompt(q, { ...stored, ...fromOptions }));
    const prompted = await this.prompt(questions as never);
    this.raw = { ...stored, ...prompted, ...fromOptions };
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
    const { answers, history, warnings } = validateAnswers(this.raw);
    const topology = buildTopology(answers, history);
    const files = renderStack(topology);
    const onDisk = (path: string) => readIfExists(this.destinationPath(path));

    let plan: ChangePlan | undefined;
    let stale: string[] = [];
    let unedited = new Set<string>();
    if (before) {
      const previous = buildTopology(before.answers, before.history);
      const previousFiles = new Map(renderStack(previous).map((f) => [f.path, f.contents]));
      // Files still exactly as the last run wrote them: safe to replace or remove without asking.
      unedited = new Set([...previousFiles].filter(([path, contents]) => onDisk(path) === contents).map(([path]) => path));
      const generated = new Set(files.map((f) => f.path));
      const leftOver = [...previousFiles.keys()].filter((path) => !generated.has(path) && onDisk(path) !== undefined);
      stale = leftOver.filter((path) => unedited.has(path));
      const changed = files.filter((f) => onDisk(f.path) !== f.contents).map((f) => f.path);
      plan = planChange(previous, topology, [...changed, ...stale]);
      for (const path of leftOver.filter((p) => !unedited.has(p))) {
        plan.notes.push(`${path} is no longer generated but you edited it, so it stays: remove it when you no longer need it.`);
      }
      if (plan.refusals.length > 0 && !options.force) {
        throw new ConfigError(plan.refusals, 'This change cannot be applied to the running stack');
      }
    }

    const secretsToCreate = missingSecrets(Object.values(topology.secrets), (file) => onDisk(file) !== undefined);
    if (before && secretsToCreate.length > 0 && !options['create-missing-secrets']) {
      throw new ConfigError(
        secretsToCreate.map((s) => `${s.file} is missing (${s.purpose})`),
        'Secrets of an existing stack are missing. Restore them from your backup: new values would lock the stack out of its own data. If this stack has never been started, re-run with --create-missing-secrets',
      );
    }

    for (const warning of warnings) this.log.conflict(`Warning: ${warning}`);
    this.stack = { topology, files, stale, unedited, secretsToCreate, plan };
    this.config.set({ ...answers, etcdFoundingMembers: history.etcdFoundingMembers });
  }

  writing() {
    const { files, stale, unedited, secretsToCreate, plan } = this.stack!;
    if (plan) this.log.info(describePlan(plan));
    for (const file of files) {
      const path = this.destinationPath(file.path);
      this.fs.write(path, file.contents, withMode(file.mode));
      // Yeoman asks before replacing any changed file; only files the user edited deserve the question.
      if (unedited.has(file.path) && plan?.changedFiles.includes(file.path)) {
        (this.fs.store.get(path) as { conflicter?: string }).conflicter = 'force';
      }
    }
    for (const path of stale) this.fs.delete(this.destinationPath(path));
    if (secretsToCreate.length > 0) {
      // Created owner-only before any secret lands in it (mem-fs would create it 0755).
      mkdirSync(this.destinationPath(SECRETS_DIR), { recursive: true, mode: SECRETS_DIR_MODE });
    }
    for (const spec of secretsToCreate) {
      this.fs.write(this.destinationPath(spec.file), generateSecret(), withMode(SECRET_FILE_MODE));
    }
  }

  end() {
    const { topology, plan } = this.stack!;
    if (plan) {
      this.log.ok('Stack updated. Apply the change with the commands listed above, in order.');
    } else {
      this.log.ok(`Stack written. Start it with: ${firstStartCommands().join(' && ')}`);
    }
    this.log.info(`Open ${topology.grafana.publicUrl} (load balancer: ${topology.loadBalancer.kind}).`);
  }
}
