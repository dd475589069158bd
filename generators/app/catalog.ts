/**
 * Pinned images and versions. One place to bump them. The tests validate the
 * generated configs with the same major.minor of each program, from Debian
 * (lab/toolchain.sh): keep the two in step when bumping.
 */

export const GRAFANA_DEFAULT_VERSION = '13.2.3';
/**
 * The oldest Grafana this generator supports; an older --grafana-version gets a warning. The
 * previous major line: Grafana Labs maintains the current major and the last of the previous.
 */
export const GRAFANA_OLDEST_SUPPORTED = '12.0.0';

/** PostgreSQL majors the Patroni image can be built for, newest first. */
export const POSTGRES_IMAGES: Record<number, string> = {
  18: 'postgres:18.6-trixie',
  17: 'postgres:17.11-trixie',
};
/** The base image for a PostgreSQL major (validated against POSTGRES_IMAGES before anything is built). */
export function postgresImage(major: number): string {
  const image = POSTGRES_IMAGES[major];
  if (!image) throw new Error(`no PostgreSQL image for major ${major}`);
  return image;
}
/** 18 is also what the lab's real-program tests run (lab/toolchain.sh). */
export const POSTGRES_DEFAULT_MAJOR = 18;

/**
 * Patroni's upstream release, installed into the image built from the official
 * postgres image from the PostgreSQL project's apt repository (PGDG), which
 * that image already has as an apt source. One place to bump it.
 */
export const PATRONI_VERSION = '4.1.5';
/** apt's version glob: any PGDG build of that release (`4.1.5-1.pgdg13+1`, …). */
export const patroniAptPackage = (version: string) => `patroni=${version}-*`;
/** pgBackRest, from the same repository, pinned the same way. */
export const PGBACKREST_VERSION = '2.60.0';
export const pgbackrestAptPackage = (version: string) => `pgbackrest=${version}-*`;

export const IMAGES = {
  grafana: (version: string) => `grafana/grafana:${version}`,
  etcd: 'gcr.io/etcd-development/etcd:v3.5.33',
  haproxy: 'haproxy:3.2.22',
  nginx: 'nginxinc/nginx-unprivileged:1.30.4',
} as const;
