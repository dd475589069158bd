/**
 * Backups and point-in-time recovery for the Patroni cluster, by pgBackRest: the current primary
 * archives its WAL into a repository (a named volume every node mounts), full and differential
 * backups are taken on the primary by ./scripts/backup.sh (the host's crontab runs it), a new or
 * rebuilt replica restores from the repository before it streams, and ./scripts/restore.sh brings
 * the whole cluster back from it. Owned by the patroni mode (patroni.ts).
 */
import { stringify } from 'ini';
import { dump } from 'js-yaml';
import type { Answers } from '../questions.js';
import { readOnlyMount, script, type GeneratedFile } from '../stack-files.js';
import { renderTemplate } from '../render/templates.js';
import type { Topology } from '../topology.js';
import type { PatroniCluster } from './patroni.js';

export interface BackupRepository {
  /** pgBackRest's name for the cluster: the Patroni scope. */
  stanza: string;
  /** The named volume holding the repository, mounted by every node at `path`. */
  volume: string;
  path: string;
  /** Each node's queue for asynchronous archiving, in its own data volume. */
  spoolPath: string;
  /** Full backups kept; older ones, and the WAL only they need, are expired after each backup. */
  retentionFull: number;
  /** At most this long between WAL switches: the bound on what a total loss loses. */
  archiveTimeoutS: number;
  /** WAL waiting to be archived beyond this is dropped (PITR gets a gap) rather than filling the primary's disk. */
  archiveQueueMax: string;
  /** The host crontab's schedule for ./scripts/backup.sh. */
  schedule: { full: string; diff: string };
}

/** The files backups add to a Patroni stack, and where the containers see them. */
export const BACKUP_FILES = {
  config: { path: 'patroni/pgbackrest.conf', inContainer: '/etc/pgbackrest/pgbackrest.conf' },
  /** `full|diff|incr|check|info` on the current primary. */
  backup: script('scripts/backup.sh'),
  /** Deletes every node's volume and restores the cluster from the repository: `--yes [--to TIME]`. */
  restore: script('scripts/restore.sh'),
  /** A Compose override for the restore's first start of the first node: Patroni bootstraps from the repository. */
  restoreOverride: { path: 'patroni/restore.yaml' },
  /** Patroni configuration read after the node's own: bootstrap by pgBackRest instead of initdb. */
  restoreBootstrap: { path: 'patroni/restore-bootstrap.yml' },
  /** The same for the first start of a major upgrade (scripts/upgrade-postgres-major.sh): initdb, no post_bootstrap. */
  upgradeOverride: { path: 'patroni/upgrade.yaml' },
  upgradeBootstrap: { path: 'patroni/upgrade-bootstrap.yml' },
  wrapper: { path: 'patroni/image/pgbackrest.sh', inContainer: '/usr/local/bin/pgbackrest' },
  restoreCommand: { path: 'patroni/image/restore-from-backup.sh', inContainer: '/usr/local/bin/restore-from-backup' },
  afterPromotion: { path: 'patroni/image/backup-after-promotion.sh', inContainer: '/usr/local/bin/backup-after-promotion' },
} as const;

/** At most this long between WAL switches: what a total loss of the PostgreSQL volumes can lose (the lab asserts it). */
export const ARCHIVE_TIMEOUT_S = 60;

/** Where a first start through an override reads its Patroni configuration: the node's file, then the bootstrap override. */
const firstStartConfigDir = (purpose: string) => `/etc/patroni/${purpose}`;
/** The real binary from the package; the wrapper on PATH before it execs this one. */
export const PGBACKREST_BINARY = '/usr/bin/pgbackrest';

export function backupRepository(answers: Answers, dataVolume: string): BackupRepository | null {
  if (answers.backups === 'none') return null;
  return {
    stanza: answers.projectName,
    volume: 'pgbackrest-repo',
    path: '/var/lib/pgbackrest',
    spoolPath: `${dataVolume}/pgbackrest-spool`,
    retentionFull: 2,
    archiveTimeoutS: ARCHIVE_TIMEOUT_S,
    archiveQueueMax: '1GiB',
    // Sunday full, other days differential, at a quiet minute.
    schedule: { full: '17 3 * * 0', diff: '17 3 * * 1-6' },
  };
}

const pgbackrestCall = (repo: BackupRepository, args: string) => `pgbackrest --stanza=${repo.stanza} ${args}`;

/** What backups add to each node's patroni.yml (`postgresql:` keys). */
export function patroniBackupSettings(repo: BackupRepository) {
  return {
    // Local parameters, not bootstrap.dcs: a cluster that existed before backups were turned on takes them too.
    parameters: {
      // `on`: only the primary archives. pgBackRest refuses `always` (a standby's copy of a segment can
      // differ in its unused tail), so a segment a crashed primary had not pushed yet is never
      // archived: the backup after each promotion (callbacks below) starts a gap-free archive again.
      archive_mode: 'on',
      archive_command: pgbackrestCall(repo, 'archive-push %p'),
      archive_timeout: repo.archiveTimeoutS,
    },
    // A replica that falls behind the primary's kept WAL catches up from the archive.
    recovery_conf: { restore_command: pgbackrestCall(repo, 'archive-get %f "%p"') },
    // Before a replica streams: restore the last backup, then stream; without a backup yet, pg_basebackup.
    create_replica_methods: ['pgbackrest', 'basebackup'],
    pgbackrest: { command: `${BACKUP_FILES.wrapper.inContainer} --stanza=${repo.stanza} --type=standby restore`, no_params: true },
    // An incremental backup when this node becomes the primary.
    callbacks: { on_role_change: BACKUP_FILES.afterPromotion.inContainer },
  };
}

/** pgbackrest.conf, every node's (the same file): the repository, its encryption, the archive queue. */
export function pgbackrestConf(db: PatroniCluster, repo: BackupRepository): string {
  return (
    '# Generated by generator-grafana-ha. The key (repo1-cipher-pass) comes from the\n' +
    '# pgbackrest-cipher-password secret through the environment, never from this file.\n' +
    stringify({
      global: {
        'repo1-path': repo.path,
        'repo1-retention-full': repo.retentionFull,
        'repo1-cipher-type': 'aes-256-cbc',
        // Block incremental: a differential or incremental backup stores the changed blocks of a file,
        // not the whole file again (a 1 GB table segment with one changed row was copied whole).
        'repo1-bundle': 'y',
        'repo1-block': 'y',
        'compress-type': 'zst',
        'archive-async': 'y',
        'archive-push-queue-max': repo.archiveQueueMax,
        'spool-path': repo.spoolPath,
        'process-max': 2,
        'start-fast': 'y',
        delta: 'y',
        // PostgreSQL's log gets pgBackRest's warnings and errors, not a line per archived segment.
        'log-level-console': 'warn',
        'log-level-file': 'off',
      },
      [repo.stanza]: { 'pg1-path': db.patroni.dataDir, 'pg1-socket-path': '/var/run/postgresql' },
    })
  );
}

/** What each node's compose service adds: the repository volume and the configuration file. */
export const backupMounts = (repo: BackupRepository) => [`${repo.volume}:${repo.path}`, readOnlyMount(BACKUP_FILES.config)];

/**
 * A Compose override for one first start of the first node on an empty volume: Patroni reads the
 * node's configuration, then `patroni/<purpose>-bootstrap.yml`. `docker compose -f compose.yaml -f OVERRIDE up -d pg-1`.
 */
function firstStartOverride(
  db: PatroniCluster,
  purpose: 'restore' | 'upgrade',
  header: string,
  environment: Record<string, string>,
): string {
  const node = db.patroni.nodes[0];
  const dir = firstStartConfigDir(purpose);
  const override = {
    services: {
      [node.name]: {
        command: [dir],
        ...(Object.keys(environment).length > 0 ? { environment } : {}),
        volumes: [
          readOnlyMount({ path: node.configFile, inContainer: `${dir}/1-node.yml` }),
          readOnlyMount({ path: BACKUP_FILES[`${purpose}Bootstrap`].path, inContainer: `${dir}/2-${purpose}.yml` }),
        ],
      },
    },
  };
  return `# Generated by generator-grafana-ha. ${header}\n${dump(override, { noRefs: true, lineWidth: 120 })}`;
}

const bootstrapConfig = (why: string, bootstrap: Record<string, unknown>) =>
  `# Generated by generator-grafana-ha. Read after the node's own configuration on\n# ${why}\n${dump({ bootstrap }, { noRefs: true, lineWidth: 120 })}`;

/** Patroni's bootstrap by pgBackRest: keep pgBackRest's recovery settings, and no post_bootstrap (Grafana's role is in the backup). */
const restoreBootstrapConfig = () =>
  bootstrapConfig("the restore's first start (patroni/restore.yaml): a cluster bootstrapped from\n# the repository instead of initdb.", {
    method: 'pgbackrest',
    pgbackrest: { command: BACKUP_FILES.restoreCommand.inContainer, keep_existing_recovery_conf: true, no_params: true },
    post_bootstrap: '/bin/true',
  });

/**
 * A major upgrade's new cluster: initdb, but no post_bootstrap, whose stanza-create would fail on the
 * old cluster's stanza; the upgrade script creates Grafana's role and moves the stanza (stanza-upgrade).
 */
const upgradeBootstrapConfig = () =>
  bootstrapConfig(
    "a major upgrade's first start (patroni/upgrade.yaml): initdb, and no\n# post_bootstrap (the upgrade script does its work and upgrades the stanza).",
    {
      post_bootstrap: '/bin/true',
    },
  );

/**
 * What starting the cluster again from empty volumes removes (restore.sh, upgrade-postgres-major.sh):
 * each node's volume, and the cluster's keys in etcd, or Patroni would wait for the old leader.
 */
export interface ClusterReset {
  nodes: string[];
  first: string;
  others: string[];
  volumes: string[];
  etcd: string;
  dcsPrefix: string;
}
export const clusterReset = (t: Topology, db: PatroniCluster): ClusterReset => {
  const nodes = db.patroni.nodes.map((n) => n.name);
  return {
    nodes,
    first: db.patroni.nodes[0].name,
    others: nodes.slice(1),
    volumes: nodes.map((n) => `${t.project}_${n}-data`),
    etcd: db.etcd.members[0].name,
    dcsPrefix: `/service/${t.project}/`,
  };
};

/** `upgradeScript`: the major upgrade's script, which uses the upgrade override. */
export function backupFiles(t: Topology, db: PatroniCluster, repo: BackupRepository, upgradeScript: string): GeneratedFile[] {
  const nodes = db.patroni.nodes.map((n) => n.name);
  const first = db.patroni.nodes[0].name;
  return [
    { path: BACKUP_FILES.config.path, contents: pgbackrestConf(db, repo) },
    {
      path: BACKUP_FILES.backup.path,
      mode: 0o755,
      contents: renderTemplate('patroni/backup.sh', {
        script: BACKUP_FILES.backup.command,
        nodes,
        restApiPort: db.patroni.nodes[0].restApiPort,
        stanza: repo.stanza,
      }),
    },
    {
      path: BACKUP_FILES.restore.path,
      mode: 0o755,
      contents: renderTemplate('patroni/restore.sh', {
        script: BACKUP_FILES.restore.command,
        backupScript: BACKUP_FILES.backup.command,
        ...clusterReset(t, db),
        override: BACKUP_FILES.restoreOverride.path,
        restApiPort: db.patroni.nodes[0].restApiPort,
      }),
    },
    {
      path: BACKUP_FILES.restoreOverride.path,
      // The point in time, from restore.sh (empty: the end of the archive).
      contents: firstStartOverride(
        db,
        'restore',
        `Used by ${BACKUP_FILES.restore.path} only: the first\n# start of ${first} after its volume is gone bootstraps from the backups.`,
        { RESTORE_TARGET: '${RESTORE_TARGET:-}' },
      ),
    },
    { path: BACKUP_FILES.restoreBootstrap.path, contents: restoreBootstrapConfig() },
    {
      path: BACKUP_FILES.upgradeOverride.path,
      contents: firstStartOverride(
        db,
        'upgrade',
        `Used by ${upgradeScript} only: the new\n# cluster's first start, on ${first}'s empty volume.`,
        {},
      ),
    },
    { path: BACKUP_FILES.upgradeBootstrap.path, contents: upgradeBootstrapConfig() },
    {
      path: BACKUP_FILES.restoreCommand.path,
      mode: 0o755,
      contents: renderTemplate('patroni/restore-from-backup.sh', { stanza: repo.stanza }),
    },
    {
      path: BACKUP_FILES.afterPromotion.path,
      mode: 0o755,
      contents: renderTemplate('patroni/backup-after-promotion.sh', { stanza: repo.stanza }),
    },
  ];
}
