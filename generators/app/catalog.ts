/**
 * Pinned images and versions. One place to bump them; tests check that every
 * image in compose.yaml comes from here and carries a full version tag.
 */

export const GRAFANA_DEFAULT_VERSION = '13.2.1';

/** PostgreSQL majors the Patroni image can be built for, newest first. */
export const POSTGRES_IMAGES: Record<number, string> = {
  18: 'postgres:18.1-trixie',
  17: 'postgres:17.7-trixie',
  16: 'postgres:16.11-trixie',
};
export const POSTGRES_DEFAULT_MAJOR = 17;

/** Patroni from PyPI, installed into the image built from the official postgres image. */
export const PATRONI_PIP_SPEC = 'patroni[etcd3,psycopg3]==4.1.0';

export const IMAGES = {
  grafana: (version: string) => `grafana/grafana:${version}`,
  etcd: 'gcr.io/etcd-development/etcd:v3.5.24',
  haproxy: 'haproxy:3.2.8',
  nginx: 'nginxinc/nginx-unprivileged:1.28.0',
} as const;
