/**
 * The Yeoman glue, kept thin: collect raw values (stored answers, options,
 * prompts), hand them to the pure pipeline, write what it returns.
 *
 *   answers/options ─► validateAnswers ─► buildTopology ─► renderStack ─► files
 */
import Generator from 'yeoman-generator';
import { constants, existsSync, mkdirSync, type Stats } from 'node:fs';
import { checkOne, validateAnswers } from './config.js';
import { QUESTIONS, type Answers, type Question } from './questions.js';
import { renderStack } from './render/index.js';
import { generateSecret, missingSecrets, SECRET_FILE_MODE, SECRETS_DIR_MODE } from './secrets.js';
import { buildTopology, SECRETS_DIR, type Topology } from './topology.js';

/**
 * mem-fs-editor applies the mode of a Stats-like object on commit; the conflict
 * check compares it with the file on disk, type bits included.
 */
const withMode = (mode?: number) => (mode === undefined ? undefined : { stat: { mode: constants.S_IFREG | mode } as Stats });

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
  private topology?: Topology;

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

  /** Validation runs here for every source (yeoman-test's mocked answers skip prompt validation). */
  configuring() {
    const { answers, warnings } = validateAnswers(this.raw);
    for (const warning of warnings) this.log.conflict(`Warning: ${warning}`);
    this.topology = buildTopology(answers);
    this.config.set(answers);
  }

  writing() {
    const topology = this.topology!;
    for (const file of renderStack(topology)) {
      this.fs.write(this.destinationPath(file.path), file.contents, withMode(file.mode));
    }
    const specs = Object.values(topology.secrets);
    const missing = missingSecrets(specs, (file) => existsSync(this.destinationPath(file)));
    if (missing.length > 0) {
      // Created owner-only before any secret lands in it (mem-fs would create it 0755).
      mkdirSync(this.destinationPath(SECRETS_DIR), { recursive: true, mode: SECRETS_DIR_MODE });
    }
    for (const spec of missing) {
      this.fs.write(this.destinationPath(spec.file), generateSecret(), withMode(SECRET_FILE_MODE));
    }
  }

  end() {
    const { loadBalancer, grafana } = this.topology!;
    this.log.ok(`Stack written. Start it with: docker compose build && docker compose up -d`);
    this.log.info(`Then open ${grafana.publicUrl} (load balancer: ${loadBalancer.kind}, port ${loadBalancer.publishedPort}).`);
  }
}
