/**
 * What a database mode owns: its questions, secrets, topology, services, files, warnings, re-run
 * steps and refusals, and its parts of the stack README. One module per mode (patroni.ts,
 * single.ts, external.ts), registered in kinds/index.ts.
 */
import type { Answers, AnswerName, DbMode } from '../questions.js';
import type { Services, Volumes } from '../render/compose-parts.js';
import type { GeneratedFile } from '../stack-files.js';
import type { GrafanaDatabase, SecretKey, SecretSpec, StackHistory, Topology } from '../topology.js';
import type { HandSteps } from './deploy-target.js';

export type HostBoundRole = 'etcd' | 'postgres';

/** What a re-run changes, as the plan tells it to each mode. */
export interface ServiceChange {
  isNew: (service: string) => boolean;
  /** A kept service whose compose definition differs (image, environment, ports, …). */
  redefined: (service: string) => boolean;
  fileChanged: (path: string) => boolean;
}

export interface DatabaseModeSpec<D> {
  /** What it is, for `--help` ("patroni (…), …"). */
  summary: string;
  /** One line beside the choice at the prompt. */
  choiceHelp: string;
  /** The mode-specific questions it asks (the others keep their defaults and are not stored). */
  asks: readonly AnswerName[];
  /** The secrets it uses with these answers. */
  secrets: (answers: Answers) => readonly SecretKey[];
  /** Secrets whose meaning differs in this mode (an external database's password is the user's). */
  secretOverrides?: Partial<Record<SecretKey, Partial<SecretSpec>>>;
  topology: (answers: Answers, history?: StackHistory) => D;
  /** The endpoint Grafana connects to. */
  grafanaEndpoint: (answers: Answers, db: D) => GrafanaDatabase;
  /** Its Compose services, in start-up order. */
  serviceNames: (db: D) => string[];
  /** Adds its services (and their volumes) to compose.yaml. */
  services: (t: Topology, db: D, volumes: Volumes) => Services;
  /**
   * Its services that keep data in their named volume, by role (`etcd`, `postgres`): on Swarm each
   * is pinned to the one host labelled for it, because a volume stays on its host.
   */
  hostBound: (db: D) => Record<string, HostBoundRole>;
  /**
   * Where its health checks test readiness (quorum, a primary to route to), the test Swarm runs
   * instead, or null for none. Swarm kills a task that turns unhealthy and lists a task in DNS only
   * once healthy (Compose only reports health), so there a check must fail only for a dead process.
   */
  livenessChecks: (db: D) => Record<string, string[] | null>;
  /** What Grafana waits for before it starts. */
  grafanaDependsOn: (db: D) => Record<string, { condition: string }> | undefined;
  /** The command that moves a running stack (on Compose) to a new --postgres-major, when the mode has one. */
  majorUpgradeCommand?: string;
  /** A command that takes a backup now (a restore point before Grafana's migrations), when it keeps backups. */
  restorePointCommand?: (db: D) => string | undefined;
  /** Whether it runs its own internal `db` network. */
  usesDbNetwork: boolean;
  files: (t: Topology, db: D) => GeneratedFile[];
  /** Valid but worth telling the user. */
  warnings: (answers: Answers) => string[];
  /** Whether the stack runs PostgreSQL itself. */
  runsPostgres: boolean;
  /** The stack README's title. */
  title: (oneReplica: boolean) => string;
  /**
   * Stack README partials (templates/stack/readme/). `growing`, for a mode whose own services grow:
   * the options of the example re-run, and partials for its steps and for shrinking.
   */
  readme: {
    services: string;
    health: string;
    database: string;
    /** How the image the stack builds is made, when it builds one. */
    image?: string;
    /** Backups and restore, for a stack that has them (its facts give `backups`). */
    backups?: string;
    growing?: { options: string; steps: string; shrinking: string };
  };
  /** What its README partials show beyond the topology (figures, file names, …). */
  readmeFacts: (db: D) => Record<string, unknown>;
  /** Why a re-run that switches from `from` into this mode must move the data, and how. */
  arrivingFrom: Partial<Record<DbMode, string>>;
  /** Changes within the mode that a running stack cannot take; `hands` writes the steps to do by hand. */
  refusals: (was: Answers, now: Answers, before: D, hands: HandSteps) => string[];
  /**
   * The steps of a re-run that are commands run inside the running cluster, not services started or
   * recreated (a new etcd member announced, settings the cluster keeps): a target whose plan cannot
   * reach into the cluster (Swarm, from a manager) names them in a refusal.
   */
  inClusterSteps: (was: Answers, after: Topology, db: D, change: ServiceChange) => string[];
  /** The commands that apply a re-run to its services, in order; `notes` gets what the user must know. */
  planCommands: (was: Answers, after: Topology, db: D, change: ServiceChange, notes: string[]) => string[];
}
