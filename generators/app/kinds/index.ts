/**
 * The kinds of stack the generator knows, one registry per axis: the deploy targets here, and what
 * runs on them (load balancers, database modes) in registry.ts. The answer choices, `--help` and
 * every renderer read them from here; a new kind is one module plus one line in its registry.
 */
import type { Topology } from '../topology.js';
import { compose } from './compose.js';
import type { DeployTargetSpec } from './deploy-target.js';
import { modeOf } from './registry.js';
import { swarm } from './swarm.js';

export * from './registry.js';

export const DEPLOY_TARGETS = { compose, swarm } satisfies Record<string, DeployTargetSpec>;
export type DeployTarget = keyof typeof DEPLOY_TARGETS;

/**
 * The command that moves this running stack to a new --postgres-major, where its mode has one and
 * its target runs it: a target that plans its own re-runs (Swarm, from a manager) does not.
 */
export function majorUpgradeCommand(t: Topology): string | undefined {
  if (DEPLOY_TARGETS[t.answers.deployTarget].planRerun) return undefined;
  return modeOf(t.database).majorUpgradeCommand;
}
