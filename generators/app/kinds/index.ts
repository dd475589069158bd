/**
 * The kinds of stack the generator knows, one registry per axis: the deploy targets here, and what
 * runs on them (load balancers, database modes) in registry.ts. The answer choices, `--help` and
 * every renderer read them from here; a new kind is one module plus one line in its registry.
 */
import { compose } from './compose.js';
import type { DeployTargetSpec } from './deploy-target.js';
import { swarm } from './swarm.js';

export * from './registry.js';

export const DEPLOY_TARGETS = { compose, swarm } satisfies Record<string, DeployTargetSpec>;
export type DeployTarget = keyof typeof DEPLOY_TARGETS;
