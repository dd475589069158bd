/**
 * What a Patroni stack does when part of its database tier fails, and the write outage Grafana saw,
 * as measured on the real Docker Engine by the failure drills (lab/drills.ts), printed by
 * `node --experimental-vm-modules node_modules/jest/bin/jest.js __tests__/lab/drills.test.ts`; the
 * first two rows by `npm run bench:failover` (medians of 3). One run each, fast profile,
 * synchronous replication, 3 Patroni nodes, HAProxy in front, 2-core machine. In every drill no
 * acknowledged write was lost, no two nodes took a direct write at once, and the DB router handed
 * no write to a replica. The stack README's "What happens when…" table lays these rows out.
 */
export const DRILLS_MEASURED = { date: '2026-12-02', profile: 'fast', loadBalancer: 'HAProxy' } as const;

export interface MeasuredFailure {
  failure: string;
  response: string;
  /** Longest time without an acknowledged Grafana write around the failure. */
  writeOutage: string;
  /** Only true with synchronous replication (the stack says so for an asynchronous one). */
  synchronousOnly?: boolean;
}

export const MEASURED_FAILURES: readonly MeasuredFailure[] = [
  {
    failure: 'the primary container is killed (SIGKILL)',
    response: 'its leader key expires in etcd; Patroni promotes the sync standby; the DB router follows',
    writeOutage: '18.6 s (median of 3)',
  },
  {
    failure: 'the primary is stopped (`docker compose stop`)',
    response: 'Patroni hands the leader key over before PostgreSQL stops',
    writeOutage: '2.2 s (median of 3)',
  },
  {
    failure: "PostgreSQL crashes on the primary, Patroni alive",
    response: 'Patroni restarts PostgreSQL in place (crash recovery); the primary stays the primary',
    writeOutage: '5.5 s',
  },
  {
    failure: 'Patroni hangs on the primary, PostgreSQL running (the "zombie")',
    response:
      'the DB router cuts its sessions once its REST API stops answering; the leader key expires and the sync standby is promoted; the zombie takes no write after that (its commits wait for a standby that left), and rejoins as a replica once Patroni runs again',
    writeOutage: '14.5 s',
    synchronousOnly: true,
  },
  {
    failure: "PostgreSQL's postmaster hangs on the primary (30 s), its sessions and Patroni running",
    response: "no failover: Patroni's own session still answers; Grafana's pooled connections keep working, new connections wait until it runs again",
    writeOutage: '0.1 s',
  },
  {
    failure: "a client holds every connection Grafana's role may open on the primary",
    response: "no failover: Patroni connects in the slots reserved for superusers, replication has its own (max_wal_senders); Grafana keeps its pooled connections",
    writeOutage: '0.1 s',
  },
  {
    failure: 'the sync standby hangs (as on a hung disk)',
    response: "commits wait until its member key expires and Patroni names another sync standby (22.7 s after the hang)",
    writeOutage: '20.6 s',
    synchronousOnly: true,
  },
  {
    failure: 'a replica falls behind, then the primary dies',
    response: 'only the sync standby, which has every acknowledged write, is promoted; never the one behind',
    writeOutage: '16.5 s',
    synchronousOnly: true,
  },
];
