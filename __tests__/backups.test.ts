/** Backups (pgBackRest) as the generator writes them: on by default, its files, its secret, its refusals and re-runs. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import helpers from 'yeoman-test';
import { parse } from 'ini';
import { load } from 'js-yaml';
import { validateAnswers } from '../generators/app/config.js';
import { planChange } from '../generators/app/plan.js';
import type { Answers } from '../generators/app/questions.js';
import { buildTopology } from '../generators/app/topology.js';
import { cliOptions, failureOf, filesFor, generate, GENERATOR, readTree } from './helpers/stack.js';

type Service = { volumes?: string[]; secrets?: string[]; command?: string[]; environment?: Record<string, string> };
const composeOf = (files: Record<string, string>) => load(files['compose.yaml']!) as { services: Record<string, Service>; volumes: object };
const patroniOf = (files: Record<string, string>, node = 'pg-1') =>
  load(files[`patroni/${node}.yml`]!) as { postgresql: Record<string, unknown> & { parameters: Record<string, unknown> } };

describe('backups, on by default for a Compose stack with Patroni', () => {
  const files = filesFor({});

  it('archives from every node into one repository volume, with the key as a secret and never in a file', () => {
    const compose = composeOf(files);
    for (const node of ['pg-1', 'pg-2', 'pg-3']) {
      expect(compose.services[node]!.volumes).toEqual(
        expect.arrayContaining(['pgbackrest-repo:/var/lib/pgbackrest', './patroni/pgbackrest.conf:/etc/pgbackrest/pgbackrest.conf:ro']),
      );
      expect(compose.services[node]!.secrets).toContain('pgbackrest-cipher-password');
      const { parameters } = patroniOf(files, node).postgresql;
      // `on`: pgBackRest refuses `always`; the backup after each promotion covers a crashed primary's unpushed segment.
      expect(parameters).toMatchObject({
        archive_mode: 'on',
        archive_command: 'pgbackrest --stanza=grafana-ha archive-push %p',
        archive_timeout: 60,
      });
      expect(patroniOf(files, node).postgresql.create_replica_methods).toEqual(['pgbackrest', 'basebackup']);
      expect(patroniOf(files, node).postgresql.callbacks).toEqual({ on_role_change: '/usr/local/bin/backup-after-promotion' });
    }
    expect(Object.keys(compose.volumes)).toContain('pgbackrest-repo');
    const conf = parse(files['patroni/pgbackrest.conf']!);
    expect(conf.global).toMatchObject({
      'repo1-cipher-type': 'aes-256-cbc',
      'repo1-path': '/var/lib/pgbackrest',
      'archive-async': 'y',
      'repo1-bundle': 'y',
      'repo1-block': 'y',
    });
    expect(conf['grafana-ha']).toEqual({ 'pg1-path': '/var/lib/postgresql/18/docker', 'pg1-socket-path': '/var/run/postgresql' });
    expect(files['patroni/pgbackrest.conf']).not.toMatch(/cipher-pass\s*=/);
    expect(files['patroni/image/with-secrets.sh']).toContain('PGBACKREST_REPO1_CIPHER_PASS="$(secret pgbackrest-cipher-password)"');
    expect(files['patroni/image/Dockerfile']).toMatch(/'pgbackrest=2\.60\.0-\*'/);
  });

  it('creates the stanza when the cluster is first initialised, and the restore bootstrap skips that (the backup has it)', () => {
    expect(files['patroni/image/post-bootstrap.sh']).toContain(
      'exec pgbackrest --stanza=grafana-ha --log-level-console=warn stanza-create',
    );
    const restore = load(files['patroni/restore-bootstrap.yml']!) as { bootstrap: Record<string, unknown> };
    expect(restore.bootstrap).toEqual({
      method: 'pgbackrest',
      pgbackrest: { command: '/usr/local/bin/restore-from-backup', keep_existing_recovery_conf: true, no_params: true },
      post_bootstrap: '/bin/true',
    });
    const override = load(files['patroni/restore.yaml']!) as { services: Record<string, Service> };
    expect(Object.keys(override.services)).toEqual(['pg-1']);
    expect(override.services['pg-1']!.command).toEqual(['/etc/patroni/restore']);
  });

  it('writes the scripts for every node, and the README runs them', () => {
    expect(files['scripts/restore.sh']).toContain('docker compose rm --stop --force pg-1 pg-2 pg-3');
    expect(files['scripts/restore.sh']).toContain(
      'docker volume rm --force grafana-ha_pg-1-data grafana-ha_pg-2-data grafana-ha_pg-3-data',
    );
    expect(files['scripts/backup.sh']).toContain('for node in pg-1 pg-2 pg-3; do');
    expect(files['README.md']).toMatch(/## Backups and restore[\s\S]*```sh\n\.\/scripts\/backup\.sh full\n/);
    expect(files['README.md']).toContain('./scripts/restore.sh --yes\n');
  });

  it('follows the stack: five nodes and another project name', () => {
    const other = filesFor({ patroniNodes: 5, projectName: 'dash' });
    expect(other['scripts/restore.sh']).toContain(
      'docker volume rm --force dash_pg-1-data dash_pg-2-data dash_pg-3-data dash_pg-4-data dash_pg-5-data',
    );
    expect(other['scripts/restore.sh']).toContain('etcdctl del --prefix /service/dash/');
    expect(parse(other['patroni/pgbackrest.conf']!).dash).toBeDefined();
  });
});

describe('--backups none, and Swarm', () => {
  it('writes no pgBackRest file, secret or setting, and warns', () => {
    const files = filesFor({ backups: 'none' });
    expect(Object.keys(files).filter((p) => /pgbackrest|backup|restore/.test(p))).toEqual([]);
    expect(patroniOf(files).postgresql.parameters).toBeUndefined();
    expect(files['README.md']).not.toContain('## Backups and restore');
    expect(validateAnswers({ backups: 'none' }).warnings.join('\n')).toMatch(/No backups \(--backups none\)/);
  });

  it('is none on Swarm, and a volume repository there is refused with the reason', async () => {
    const swarm = { deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/g' } as Partial<Answers>;
    expect(validateAnswers(swarm).answers.backups).toBe('none');
    expect(() => validateAnswers({ ...swarm, backups: 'volume' })).toThrow(/--backups \(backups\): volume is not for swarm/);
    const message = await failureOf(generate({ 'deploy-target': 'swarm', 'image-registry': 'r.example.com/g', backups: 'volume' }));
    expect(message).toMatch(/a named volume stays on one/);
  });
});

describe('re-runs', () => {
  const topology = (raw: Partial<Answers>) => buildTopology(validateAnswers(raw).answers);

  it('turning backups on recreates the nodes one at a time with the image rebuilt, the leader last, then takes the first backup', () => {
    const plan = planChange(topology({ backups: 'none' }), topology({ backups: 'volume' }), ['compose.yaml', 'patroni/pg-1.yml']);
    expect(plan.refusals).toEqual([]);
    expect(plan.commands).toEqual(['./scripts/rolling-restart.sh', './scripts/backup.sh full']);
  });

  it('keeps a stack recorded before the question without backups, until asked', async () => {
    const result = await generate({});
    const yoRc = join(result.cwd, '.yo-rc.json');
    const stored = JSON.parse(readFileSync(yoRc, 'utf8'));
    delete stored['generator-grafana-ha'].backups;
    writeFileSync(yoRc, JSON.stringify(stored));
    const compose = readTree(result.cwd)['compose.yaml'];
    await helpers
      .run(GENERATOR, {}, { force: false })
      .withOptions(cliOptions({ defaults: true }))
      .cd(result.cwd);
    const after = readTree(result.cwd);
    expect(JSON.parse(after['.yo-rc.json']!)['generator-grafana-ha'].backups).toBe('none');
    expect(after['compose.yaml']).not.toContain('pgbackrest');
    expect(compose).toContain('pgbackrest');
  });
});

describe('the PostgreSQL major upgrade script', () => {
  it('dumps before it deletes, starts the new cluster without post_bootstrap, moves the stanza, and backs up before the replicas clone', () => {
    const files = filesFor({});
    const upgrade = files['scripts/upgrade-postgres-major.sh']!;
    const order = [
      'docker compose stop grafana-1 grafana-2',
      'pg_dump -h /var/run/postgresql -Fc grafana',
      'pg_restore --list',
      'docker volume rm --force grafana-ha_pg-1-data grafana-ha_pg-2-data grafana-ha_pg-3-data',
      'etcdctl del --prefix /service/grafana-ha/',
      'docker compose -f compose.yaml -f patroni/upgrade.yaml up -d pg-1',
      '-f /usr/local/share/grafana-ha/create-grafana-db.sql',
      'pgbackrest --stanza=grafana-ha stanza-upgrade',
      '--role=grafana --no-owner --exit-on-error',
      './scripts/backup.sh full',
      'docker compose up -d --wait pg-2 pg-3',
    ];
    const positions = order.map((text) => upgrade.indexOf(text));
    expect(positions.filter((p) => p < 0)).toEqual([]);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    // Compose 2.26–2.29 labels a --no-deps container with another hash: the next plain `up` would recreate it.
    expect(upgrade).not.toMatch(/^[^#]*--no-deps/m);
    expect((load(files['patroni/upgrade-bootstrap.yml']!) as { bootstrap: unknown }).bootstrap).toEqual({ post_bootstrap: '/bin/true' });
    const override = load(files['patroni/upgrade.yaml']!) as { services: Record<string, Service> };
    expect(override.services['pg-1']).toEqual({
      command: ['/etc/patroni/upgrade'],
      volumes: [
        './patroni/pg-1.yml:/etc/patroni/upgrade/1-node.yml:ro',
        './patroni/upgrade-bootstrap.yml:/etc/patroni/upgrade/2-upgrade.yml:ro',
      ],
    });
    // Dumps hold Grafana's data: out of version control, like the secrets.
    expect(files['.gitignore']!.split('\n')).toEqual(expect.arrayContaining(['secrets/', 'dumps/']));
  });

  it("the READMEs say which stacks refuse a new major: Swarm's and single mode's, not Compose's with Patroni", () => {
    const refused = /PostgreSQL major version or the database mode[\s\S]{0,60}is refused/;
    expect(filesFor({})['README.md']).not.toMatch(/the PostgreSQL major version/);
    expect(filesFor({ dbMode: 'single' })['README.md']).toMatch(refused);
    const swarm = filesFor({ deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/g' } as Partial<Answers>);
    expect(swarm['README.md']).toMatch(refused);
  });

  it('without backups starts the new cluster plainly; on Swarm there is no such script', () => {
    const upgrade = filesFor({ backups: 'none' })['scripts/upgrade-postgres-major.sh']!;
    expect(upgrade).toContain('docker compose up -d --wait pg-1\n');
    expect(upgrade).not.toMatch(/pgbackrest|backup\.sh/);
    const swarm = filesFor({ deployTarget: 'swarm', imageRegistry: 'registry.example.com:5000/g' } as Partial<Answers>);
    expect(Object.keys(swarm)).not.toContain('scripts/upgrade-postgres-major.sh');
  });
});
