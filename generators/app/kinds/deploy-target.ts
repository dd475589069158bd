/**
 * What a deploy target owns: the questions it adds, the stack file the engine reads (built from
 * the topology), the commands that start the stack, and the stack README's template. One module
 * per target (compose.ts, swarm.ts), registered in kinds/index.ts.
 */
import type { AnswerName, Answers } from '../questions.js';
import type { GeneratedFile } from '../stack-files.js';
import type { Topology } from '../topology.js';

/** A topology and every file of its stack but the stack file and the README. */
export interface StackInputs {
  t: Topology;
  files: GeneratedFile[];
}

/** How a step the user runs by hand (named in a refusal) is written for this target's engine. */
export interface HandSteps {
  /** `command` run inside `service`'s container, as a phrase with the command in backticks. */
  inService: (service: string, command: string) => string;
  /** The services' containers stopped and removed, as a phrase with the command in backticks. */
  remove: (services: string[]) => string;
}

export interface DeployTargetSpec {
  /** What it is, for `--help` ("compose (…) or swarm (…)"). */
  summary: string;
  /** One line beside the choice at the prompt. */
  choiceHelp: string;
  /** The target-specific questions it asks (the others keep their defaults and are not stored). */
  asks: readonly AnswerName[];
  /**
   * Every file of the stack but the README: its stack file added to the others (a target that names
   * configuration by its content needs their contents), less those it has no use for.
   */
  files: (t: Topology, others: GeneratedFile[]) => GeneratedFile[];
  /** The host mode of the secret files (how the engine hands them to the containers decides it). */
  secretFileMode: number;
  /** What the generator prints after a first run, and the stack README starts the stack with. */
  firstStartCommands: (t: Topology, files: GeneratedFile[]) => string[];
  /**
   * The commands that apply a re-run, in order, when the target plans them itself (Swarm: one
   * service at a time); `notes` gets what the user must know. Without it, the re-run plan's
   * service-by-service Compose commands. `files`: every file of each stack but the stack file and README.
   */
  planRerun?: (before: StackInputs, after: StackInputs, notes: string[]) => string[];
  /** Changes of its own answers that a running stack on this target cannot take (a re-run stops unless --force). */
  refusals?: (was: Answers, now: Answers) => string[];
  /** How the user runs a step by hand on this target (refusals name such steps). */
  handSteps: (t: Topology) => HandSteps;
  /** The stack README's template (templates/stack/), and what it shows beyond the topology. */
  readme: 'stack/README.md' | 'stack/README-swarm.md';
  readmeFacts: (t: Topology, files: GeneratedFile[]) => Record<string, unknown>;
  /** Whether that README includes the database mode's and the load balancer's partials (templates/stack/readme/). */
  readmePartials: boolean;
}
