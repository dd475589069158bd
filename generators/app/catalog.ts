/**
 * Pinned images and versions. One place to bump them. The tests validate the
 * generated configs with the same major.minor of each program, from Debian
 * (lab/toolchain.sh): keep the two in step when bumping.
 */

export const GRAFANA_DEFAULT_VERSION = '13.2.3';

/** PostgreSQL majors the Patroni image can be built for, newest first. */
export const POSTGRES_IMAGES: Record<number, string> = {
  18: 'postgres:18.6-trixie',
  17: 'postgres:17.11-trixie',
};
/** 18 is also what the lab's real-program tests run (lab/toolchain.sh). */
export const POSTGRES_DEFAULT_MAJOR = 18;

/** Patroni from PyPI, installed into the image built from the official postgres image. */
export const PATRONI_PIP_SPEC = 'patroni[etcd3,psycopg3]==4.1.5';

export const IMAGES = {
  grafana: (version: string) => `grafana/grafana:${version}`,
  etcd: 'gcr.io/etcd-development/etcd:v3.5.33',
  haproxy: 'haproxy:3.2.22',
  nginx: 'nginxinc/nginx-unprivileged:1.30.4',
} as const;
