/**
 * Patroni timing profiles. Patroni silently "fixes" timings that break
 * `loop_wait + 2 * retry_timeout <= ttl` (or go below its minimums), so the
 * generator only offers profiles that already satisfy the rule; a unit test
 * checks every profile with `patroniTimingProblems`.
 */
export interface PatroniTiming {
  /** Seconds the leader key lives in etcd: the floor of a hard-failure failover. */
  ttl: number;
  /** Seconds between Patroni's HA loops. */
  loopWait: number;
  /** Seconds Patroni retries etcd/PostgreSQL before it demotes itself. */
  retryTimeout: number;
  /** Shown in prompts and in the generated README. */
  summary: string;
}

export const FAILOVER_PROFILES = {
  fast: {
    // ttl is at Patroni's minimum. A dead primary's key expires ttl - (time since its last refresh)
    // after the death: a longer loop_wait spreads that over 13-20 s instead of 15-20 s (median
    // 16.5 s, not 17.5 s); retry_timeout then has to shrink to keep Patroni's rule (7 + 2*6 <= 20).
    ttl: 20,
    loopWait: 7,
    retryTimeout: 6,
    summary:
      'Patroni minimum ttl: a dead primary is replaced 13-20 s after it dies; a primary cut off from etcd demotes itself after at most loop_wait + retry_timeout = 13 s, well before its key expires.',
  },
  upstream: {
    ttl: 30,
    loopWait: 10,
    retryTimeout: 10,
    summary: "Patroni's own defaults: ~30-40 s to replace a dead primary, more tolerant of slow networks and long etcd hiccups.",
  },
} as const satisfies Record<string, PatroniTiming>;

export type FailoverProfileName = keyof typeof FAILOVER_PROFILES;

/** Patroni's own limits (patroni/config.py): the minimums and the loop rule. */
export function patroniTimingProblems(t: Pick<PatroniTiming, 'ttl' | 'loopWait' | 'retryTimeout'>): string[] {
  const problems: string[] = [];
  if (t.ttl < 20) problems.push(`ttl ${t.ttl} is below Patroni's minimum of 20`);
  if (t.loopWait < 1) problems.push(`loop_wait ${t.loopWait} is below Patroni's minimum of 1`);
  if (t.retryTimeout < 3) problems.push(`retry_timeout ${t.retryTimeout} is below Patroni's minimum of 3`);
  if (t.loopWait + 2 * t.retryTimeout > t.ttl) {
    problems.push(`loop_wait + 2*retry_timeout = ${t.loopWait + 2 * t.retryTimeout} exceeds ttl ${t.ttl}`);
  }
  return problems;
}
