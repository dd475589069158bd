/** The secrets a stack may use: their names, files in the stack folder, and what each is for. */

export interface SecretSpec {
  name: string;
  file: string;
  purpose: string;
  /** Only the user knows it (an external database's password): never invented. */
  userProvided?: boolean;
}

export type SecretKey =
  'postgresSuperuser' | 'postgresReplication' | 'patroniRestApi' | 'grafanaDb' | 'grafanaSecretKey' | 'grafanaAdmin' | 'pgbackrestCipher';

export const SECRETS_DIR = 'secrets';
const secret = (name: string, purpose: string): SecretSpec => ({ name, file: `${SECRETS_DIR}/${name}`, purpose });

export const SECRETS: Record<SecretKey, SecretSpec> = {
  postgresSuperuser: secret('postgres-superuser-password', 'PostgreSQL superuser (postgres), used by Patroni'),
  postgresReplication: secret('postgres-replication-password', 'PostgreSQL replication user (replicator)'),
  patroniRestApi: secret('patroni-restapi-password', "Patroni REST API's unsafe methods (user patroni)"),
  grafanaDb: secret('grafana-db-password', "Grafana's PostgreSQL role (grafana)"),
  grafanaSecretKey: secret('grafana-secret-key', 'Grafana [security] secret_key: encrypts data source secrets'),
  grafanaAdmin: secret('grafana-admin-password', 'Grafana admin user, applied on the first start only'),
  pgbackrestCipher: secret('pgbackrest-cipher-password', 'pgBackRest repository encryption key: without it no backup can be read'),
};
