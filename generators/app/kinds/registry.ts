/**
 * What a stack runs, one registry per axis: the load balancers and the database modes. Each entry
 * is one module that owns everything about its kind; a new kind is one module plus one line below,
 * and the compiler refuses an incomplete one. The deploy targets, which lay these services out for
 * an engine, are registered on top of this in index.ts (kept apart so that a target can read these
 * registries without an import cycle).
 */
import type { DatabaseModeSpec } from './database-mode.js';
import { external } from './external.js';
import { haproxy } from './haproxy.js';
import type { LoadBalancerSpec } from './load-balancer.js';
import { nginx } from './nginx.js';
import { patroni } from './patroni.js';
import { single } from './single.js';
export const LOAD_BALANCERS = { haproxy, nginx } satisfies Record<string, LoadBalancerSpec>;
export type LoadBalancerKind = keyof typeof LOAD_BALANCERS;

// `any`: each module is checked against the DatabaseModeSpec of its own topology where it is declared.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const DATABASE_MODES = { patroni, single, external } satisfies Record<string, DatabaseModeSpec<any>>;
export type DbMode = keyof typeof DATABASE_MODES;

/** The topology of each mode, as its module builds it. */
type TopologyOf<M extends DbMode> = ReturnType<(typeof DATABASE_MODES)[M]['topology']>;
export type DatabaseTopology = { [M in DbMode]: TopologyOf<M> }[DbMode];

/**
 * The module of a database topology's mode. The registry is keyed by mode, so the module of
 * `db.mode` builds exactly `db`'s type: the one cast tells the compiler what it cannot infer.
 */
export const modeOf = <D extends DatabaseTopology>(db: D) => DATABASE_MODES[db.mode] as unknown as DatabaseModeSpec<D>;
