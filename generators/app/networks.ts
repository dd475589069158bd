/** Networks: only `edge` reaches the host (and the outside); `app` and `db` are internal. */
export const NETWORKS = {
  /** Load balancer ↔ Grafana replicas; the way out to an external database. */
  edge: 'edge',
  /** Grafana's alerting gossip between the replicas; Grafana replicas ↔ the database router or server. */
  app: 'app',
  /** Database router ↔ Patroni nodes ↔ etcd. */
  db: 'db',
} as const;
