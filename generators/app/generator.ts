/**
 * The Yeoman glue, kept thin: collect raw values (stored answers, options,
 * prompts), hand them to the pure pipeline, write what it returns.
 *
 *   answers/options ─► validateAnswers ─► buildTopology ─► renderStack ─► files
 */
import Generator from 'yeoman-generator';
import { YoResolve } from '@yeoman/conflicter';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createTwoFilesPatch } from 'diff';
import { emptyPasswordProblem, optionValue, optionValues, readPasswordFile, toPrompt, unresolvableConflicts } from './cli-input.js';
import { commitChanges, faultInjection, type FileWrite, type StackChanges } from './commit.js';
import { answersRecordedBefore, answersToStore, ConfigError, validateAnswers } from './config.js';
import { describePlan, planRerun, type Rerun } from './plan.js';
import { QUESTIONS, type Question } from './questions.js';
import { firstStartCommands, renderStack, type GeneratedFile } from './render/index.js';
import { RECORD_FILE, recordMismatch, recordText, sha256, type GenerationRecord } from './record.js';
import {
  composeProjectOnDisk,
  GENERATOR_VERSION,
  readIfExists,
  readRecord,
  refuseEditedHistory,
  STACK_NAMES,
  validateStored,
  YO_RC,
  yoRcText,
} from './stack-folder.js';
import { DEPLOY_TARGETS } from './kinds/index.js';
import { planSecrets, SECRETS_DIR_MODE } from './secrets.js';
import { buildTopology, SECRETS, SECRETS_DIR, type Topology } from './topology.js';

/** Yeoman's --dry-run: the commit shows what would change and writes nothing; neither may we. */
const isDryRun = (options: Record<string, unknown>) => Boolean(options.dryRun);

// Yeoman runs every public method of the class as a task, in its run-loop order.
export default class GrafanaHaGenerator extends Generator {
  private raw: Record<string, unknown> = {};
  private externalDbPassword?: string;
  private stack?: {
    topology: Topology;
    /** Set on a re-run over an existing stack. */
    rerun?: Rerun;
    /** Files the user edited and chose to keep: this generation is then incomplete. */
    kept: string[];
    /** Everything this run writes and removes, applied all or nothing. */
    changes: StackChanges;
  };

  constructor(args: string[], options: Record<string, unknown>) {
    // A Compose stack has no npm packages to install.
    super(args, options as never, { customInstallTask: true });
    for (const q of QUESTIONS as readonly Question[]) {
      const choices = q.choices ? ` [${q.choices.join('|')}]` : '';
      const fallback = q.helpDefault ?? String(q.default({}));
      const shownDefault = fallback === '' ? '' : ` (default: ${fallback})`;
      // Every answer option takes a value as text (`--synchronous-replication false`); validation coerces it.
      this.option(q.option, { type: String, description: `${q.help}${choices}${shownDefault}` });
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
    // Yeoman logs "An error occured while running grafana-ha:app#configuring" before every error: the
    // error itself says what is wrong, and that line only names our code's insides.
    const logError = this.log.error.bind(this.log);
    this.log.error = ((...messages: unknown[]) =>
      String(messages[0]).startsWith('An error occured while running') ? this.log : logError(...messages)) as typeof this.log.error;
    if (Object.keys(this.config.getAll()).length > 0 || existsSync(this.destinationPath(RECORD_FILE))) return;
    const found = STACK_NAMES.filter((name) => existsSync(this.destinationPath(name)));
    if (found.length > 0) {
      throw new ConfigError(
        [
          `${this.destinationPath()} is not a grafana-ha stack (no .yo-rc.json) but already holds ${found.join(', ')}: run the generator in an empty folder, or in a stack it generated.`,
        ],
        'Refusing to generate into this folder',
      );
    }
  }

  async prompting() {
    const options = this.options as Record<string, unknown>;
    // A stack recorded before a question existed keeps what it had then (no backups, say), not the new default.
    const stored = { ...answersRecordedBefore(this.config.getAll()), ...this.config.getAll() } as Record<string, unknown>;
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
        validate: (value: string) => emptyPasswordProblem(value) ?? true,
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
    const mismatch = record && recordMismatch(record, onDisk, composeProjectOnDisk(onDisk('compose.yaml')));
    if (mismatch) throw new ConfigError([mismatch], 'The record of the last generation does not match this folder');
    // .yo-rc.json is input, validated like any (a hand edit included), and may change the answers;
    // the history it repeats is the record's, which no edit changes.
    const storedAnswers = Object.keys(stored).length > 0 ? validateStored(stored) : undefined;
    const before = record ? validateStored(record.stored, RECORD_FILE) : storedAnswers;
    if (record && storedAnswers) refuseEditedHistory(storedAnswers, before!);
    // An etcd cluster never moves its data: the run keeps the layout the stack has (for one generated
    // before the layout was recorded, the volume root), for its new members too.
    const raw = before?.answers.dbMode === 'patroni' ? { ...this.raw, etcdDataDir: before.history.etcdDataDir } : this.raw;
    const { answers, history, warnings } = validateAnswers(raw, { options: optionValues(options) });
    const promptedPasswordProblem = this.externalDbPassword === undefined ? undefined : emptyPasswordProblem(this.externalDbPassword);
    if (promptedPasswordProblem) throw new ConfigError([`the password of Grafana's role ${promptedPasswordProblem}`]);
    const topology = buildTopology(answers, history);
    const files = renderStack(topology);

    const previous = before && buildTopology(before.answers, before.history);
    const rerun = previous && planRerun(previous, topology, files, onDisk, record?.files);
    if (rerun && rerun.plan.refusals.length > 0 && !options.force) {
      throw new ConfigError(rerun.plan.refusals, 'This change cannot be applied to the running stack');
    }
    const passwordFile = optionValue(options, 'db-password-file');
    // Only a mode whose database password the user brings (external) takes one.
    if (passwordFile && !topology.secrets.grafanaDb?.userProvided) {
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

    for (const warning of warnings) this.log.writeln(`warning ${warning}`);
    // Re-runs read the CA certificate from the stack's own copy.
    const caCert = topology.grafana.database.caCert;
    const toStore = answersToStore(caCert ? { ...answers, dbCaFile: caCert.file } : answers, history);

    // Every file, decided before anything is written: the generated ones that differ from the disk
    // (an edited one only if the user agrees), the secrets, the CA copy, .yo-rc.json, the record.
    const conflicts = rerun?.conflicts ?? [];
    const kept = await this._resolveConflicts(conflicts, files);
    const writes: FileWrite[] = files.filter((f) => onDisk(f.path) !== f.contents && !kept.includes(f.path));
    if (caCert && this.destinationPath(caCert.source) !== this.destinationPath(caCert.file)) {
      writes.push({ path: caCert.file, contents: readFileSync(this.destinationPath(caCert.source), 'utf8') });
    }
    writes.push(
      ...secrets.writes.map(({ spec, value }) => ({
        path: spec.file,
        contents: value,
        mode: DEPLOY_TARGETS[answers.deployTarget].secretFileMode,
      })),
    );
    writes.push({ path: YO_RC, contents: yoRcText(onDisk(YO_RC), this.rootGeneratorName(), toStore) });
    const generation: GenerationRecord = {
      generator: GENERATOR_VERSION,
      stored: toStore,
      files: Object.fromEntries(files.map((f) => [f.path, sha256(f.contents)])),
    };
    this.stack = {
      topology,
      rerun,
      kept,
      changes: {
        writes,
        deletes: rerun?.stale ?? [],
        folders: secrets.writes.length > 0 ? [{ path: SECRETS_DIR, mode: SECRETS_DIR_MODE }] : [],
        // A file the user kept means this generation is not complete: the previous record stays.
        last: kept.length === 0 ? { path: RECORD_FILE, contents: recordText(generation) } : undefined,
      },
    };
  }

  /**
   * Which of the files the user edited keep their version: --force takes the generated one, a
   * .yo-resolve entry decides, a terminal asks; without one, the run stops here, nothing written.
   * (yeoman-test's adapter answers questions as a terminal does.)
   */
  // `_`: Yeoman runs every other method of the class as a task of its own.
  async _resolveConflicts(conflicts: string[], files: GeneratedFile[]): Promise<string[]> {
    const options = this.options as Record<string, unknown>;
    if (conflicts.length === 0 || options.force) return [];
    const yoResolve = new YoResolve();
    const kept: string[] = [];
    const unresolved: string[] = [];
    for (const path of conflicts) {
      const status = options.skipYoResolve ? undefined : await yoResolve.getStatusForFile(this.destinationPath(path));
      if (status === 'skip') kept.push(path);
      else if (status === undefined) unresolved.push(path);
    }
    const interactive = Boolean(process.stdin.isTTY) || this.env.adapter.constructor.name === 'TestAdapter';
    // --bail: stop at the first conflict instead of asking.
    if (unresolved.length > 0 && !interactive) throw unresolvableConflicts(unresolved);
    if (unresolved.length > 0 && options.bail) throw unresolvableConflicts(unresolved, '--bail stops at the first one');
    for (const path of unresolved) {
      const generated = files.find((f) => f.path === path)?.contents ?? '';
      this.log.info(
        `${path} was edited since the last run, and this run changes it:\n${createTwoFilesPatch(`${path} (yours)`, `${path} (generated)`, readIfExists(this.destinationPath(path)) ?? '', generated)}`,
      );
      const { action } = await this.prompt<{ action: 'write' | 'skip' }>({
        type: 'select',
        name: 'action',
        message: `${path}: keep your version, or take the generated one?`,
        choices: [
          { name: 'keep mine (this change is then not applied, and the next run asks again)', value: 'skip' },
          { name: 'take the generated version (your edits are lost)', value: 'write' },
        ],
        default: 'skip',
      } as never);
      if (action === 'skip') kept.push(path);
    }
    return kept;
  }

  async writing() {
    const { rerun, changes } = this.stack!;
    if (rerun) this.log.info(describePlan(rerun.plan));
    if (isDryRun(this.options as Record<string, unknown>)) {
      const files = [...changes.writes.map((w) => w.path), ...changes.deletes.map((p) => `${p} (removed)`)];
      this.log.info(`Dry run: nothing was written. A run would write ${files.length > 0 ? files.join(', ') : 'nothing'}.`);
      return;
    }
    await commitChanges(this.destinationPath(), changes, faultInjection());
  }

  end() {
    const { topology, rerun, kept } = this.stack!;
    if (isDryRun(this.options as Record<string, unknown>)) return;
    if (kept.length > 0) {
      throw new Error(
        `Not applied: you kept your version of ${kept.join(', ')}. The stack is NOT updated: the other files are written, ` +
          'but this generation is not recorded, so the next run shows the same change and commands again. Do not apply them until then.',
      );
    }
    if (rerun) {
      this.log.ok('Stack updated. Apply the change with the commands listed above, in order.');
    } else {
      this.log.ok(`Stack written. Start it with: ${firstStartCommands(topology).join(' && ')}`);
    }
    this.log.info(`Open ${topology.grafana.publicUrl} and log in as admin: the password is in ${SECRETS.grafanaAdmin.file}.`);
    this.log.info('README.md in this folder is the runbook: health checks, failover, growing, restarts, limits.');
    const compose = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8', timeout: 10_000 });
    if (topology.answers.deployTarget === 'compose' && compose.status !== 0) {
      // Not an error: the stack may be deployed on another machine.
      this.log.writeln(
        `warning Docker Engine with Compose v2 (\`docker compose\`) was not found on this machine: the stack needs both where it runs.`,
      );
    }
  }
}
