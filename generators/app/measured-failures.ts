/**
 * What a Patroni stack does when part of its database tier fails, and the write outage Grafana saw,
 * as measured on the real Docker Engine by the failure drills (lab/drills.ts), printed by
 * `node --experimental-vm-modules node_modules/jest/bin/jest.js __tests__/lab/drills.test.ts` (in the
 * full rehearsal of d3d60bf); the first two rows by `BENCH_PROFILES=fast BENCH_DRILL_RUNS=0
 * BENCH_SWARM_RUNS=0 BENCH_PLANNED=0 npm run bench:failover` (medians of 5). One run each, fast profile (loop_wait 7),
 * synchronous replication unless the row says otherwise, 3 Patroni nodes, HAProxy in front (nginx
 * for the full disk), 2-core machine. In every drill no
 * acknowledged write was lost, no two nodes took a direct write at once, and the DB router handed
 * no write to a replica. The stack README's "What happens when…" table lays these rows out.
 */
export const DRILLS_MEASURED = { date: '2026-12-08', profile: 'fast', loadBalancer: 'HAProxy' } as const;

export interface MeasuredFailure {
  failure: string;
  response: string;
  /** Longest time without an acknowledged Grafana write around the failure. */
  writeOutage: string;
  /** The replication mode the row is true for (the stack says what sync would close for an asynchronous one); both when absent. */
  replication?: 'synchronous' | 'asynchronous';
}

export const MEASURED_FAILURES: readonly MeasuredFailure[] = [
  {
    failure: 'the primary container is killed (SIGKILL)',
    response: 'its leader key expires in etcd; Patroni promotes the sync standby; the DB router follows',
    writeOutage: '15.2 s (median of 5, at most 19.6 s)',
  },
  {
    failure: 'the primary is stopped (`docker compose stop`)',
    response: 'Patroni hands the leader key over before PostgreSQL stops',
    writeOutage: '1.7 s (median of 5)',
  },
  {
    failure: 'PostgreSQL crashes on the primary, Patroni alive',
    response: 'Patroni restarts PostgreSQL in place (crash recovery); the primary stays the primary',
    writeOutage: '2.9 s',
  },
  {
    failure: 'Patroni hangs on the primary, PostgreSQL running (the "zombie")',
    response:
      'the DB router cuts its sessions once its REST API stops answering; the leader key expires and the sync standby is promoted; the zombie takes no write after that (its commits wait for a standby that left), and rejoins as a replica once Patroni runs again',
    writeOutage: '19.7 s',
    replication: 'synchronous',
  },
  {
    failure: "PostgreSQL's postmaster hangs on the primary (30 s), its sessions and Patroni running",
    response:
      "no failover: Patroni's own session still answers; Grafana's pooled connections keep working, new connections wait until it runs again",
    writeOutage: '0.2 s',
  },
  {
    failure: "a client holds every connection Grafana's role may open on the primary",
    response:
      'no failover: Patroni connects in the slots reserved for superusers, replication has its own (max_wal_senders); Grafana keeps its pooled connections',
    writeOutage: '0.3 s',
  },
  {
    failure: 'the sync standby hangs (as on a hung disk)',
    response: 'commits wait until its member key expires and Patroni names another sync standby',
    writeOutage: '20.8 s',
    replication: 'synchronous',
  },
  {
    failure: 'a replica falls behind, then the primary dies',
    response: 'only the sync standby, which has every acknowledged write, is promoted; never the one behind',
    writeOutage: '18.9 s',
    replication: 'synchronous',
  },
  {
    failure: "the primary's data volume fills up (held full for 15 s)",
    response:
      "no failover: PostgreSQL keeps running and refuses only what needs space (`could not extend file …: No space left on device`); Grafana's writes fail until space is freed, then resume at once",
    writeOutage: '15.4 s (the time it was full)',
  },
  {
    failure: 'every replica is far behind (more than `maximum_lag_on_failover`), then the primary dies',
    response:
      'no replica is promoted (each logs `exceeds maximum replication lag`): writes stop rather than lose those only the primary had; they resume once the primary is started again and takes the leader key back',
    writeOutage: 'until the primary is back (51.5 s in the drill, which started it again after 45 s)',
    replication: 'asynchronous',
  },
];

/** The rows true for a Patroni stack with (or without) synchronous replication. */
export const measuredFailuresFor = (synchronous: boolean) =>
  MEASURED_FAILURES.filter((row) => !row.replication || row.replication === (synchronous ? 'synchronous' : 'asynchronous'));
