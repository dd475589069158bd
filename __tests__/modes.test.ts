/** The three database modes through the real generator: what each needs, writes and refuses. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { failureOf, freshDir, generate, readTree, TEST_CA_FILE } from './helpers/stack.js';

const passwordFile = (password: string) => {
  const file = join(freshDir(), 'pw');
  writeFileSync(file, `${password}\n`);
  return file;
};

const EXTERNAL = { 'db-mode': 'external', 'db-host': 'pg.example.com' };

describe('external', () => {
  it('writes the password given by --db-password-file, and no PostgreSQL of its own', async () => {
    const result = await generate({ ...EXTERNAL, 'db-password-file': passwordFile('from-the-dba') });
    const tree = readTree(result.cwd);
    expect(tree['secrets/grafana-db-password']).toBe('from-the-dba');
    expect(
      Object.keys(tree)
        .filter((p) => p.startsWith('secrets/'))
        .sort(),
    ).toEqual(['secrets/grafana-admin-password', 'secrets/grafana-db-password', 'secrets/grafana-secret-key']);
    const services = Object.keys((load(tree['compose.yaml']) as { services: object }).services);
    expect(services).toEqual(['grafana-1', 'grafana-2', 'lb']);
  });

  it('needs the host, then the password', async () => {
    const message = await failureOf(generate({ 'db-mode': 'external' }));
    expect(message).toMatch(/--db-host \(dbHost\): must be a host name/);
    const noPassword = await failureOf(generate(EXTERNAL));
    expect(noPassword).toMatch(/--db-password-file/);
  });

  it('copies the CA certificate for verify-full and mounts it, and re-runs from the copy', async () => {
    const caFile = TEST_CA_FILE;
    const options = { ...EXTERNAL, 'db-ssl-mode': 'verify-full', 'db-ca-file': caFile, 'db-password-file': passwordFile('x') };
    const result = await generate(options);
    expect(readFileSync(join(result.cwd, 'grafana/db-ca.crt'), 'utf8')).toBe(readFileSync(caFile, 'utf8'));
    expect(JSON.parse(readTree(result.cwd)['.yo-rc.json'])['generator-grafana-ha'].dbCaFile).toBe('grafana/db-ca.crt');
    await generate({ force: false }, result.cwd);
    expect(readTree(result.cwd)['grafana/grafana.ini']).toContain('ssl_mode = verify-full');
  });

  it('refuses verify-full without an existing CA file', async () => {
    const message = await failureOf(generate({ ...EXTERNAL, 'db-ssl-mode': 'verify-full', 'db-ca-file': '/nonexistent.crt' }));
    expect(message).toMatch(/--db-ca-file.*must be a readable file \(\/nonexistent\.crt does not exist\)/);
  });

  it('refuses a CA file that is a folder, holds no PEM certificate, or one that does not parse', async () => {
    const dir = freshDir();
    const notPem = join(dir, 'notes.txt');
    writeFileSync(notPem, 'hello\n');
    const broken = join(dir, 'broken.crt');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n');
    const caFile = (file: string) =>
      failureOf(generate({ ...EXTERNAL, 'db-ssl-mode': 'verify-full', 'db-ca-file': file, 'db-password-file': passwordFile('x') }));
    expect(await caFile(dir)).toMatch(/is not a regular file/);
    expect(await caFile(notPem)).toMatch(/must hold PEM certificates/);
    expect(await caFile(broken)).toMatch(/certificate 1 of .*broken\.crt does not parse/);
  });

  it('refuses --db-password-file where the stack makes its own passwords', async () => {
    expect(await failureOf(generate({ 'db-password-file': passwordFile('x') }))).toMatch(/only for --db-mode external/);
  });
});

describe('single', () => {
  it('runs one PostgreSQL with generated passwords and warns that it is not HA', async () => {
    const result = await generate({ 'db-mode': 'single' });
    const tree = readTree(result.cwd);
    const services = Object.keys((load(tree['compose.yaml']) as { services: object }).services);
    expect(services).toEqual(['postgres', 'grafana-1', 'grafana-2', 'lb']);
    expect(tree['secrets/postgres-superuser-password']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tree['README.md']).toMatch(/no database HA/);
  });
});

describe('switching modes on an existing stack', () => {
  it('is refused with what would happen to the data, unless --force', async () => {
    const first = await generate({ 'db-mode': 'single' });
    const before = readTree(first.cwd);
    const message = await failureOf(generate({ 'db-mode': 'patroni', force: false }, first.cwd));
    expect(message).toMatch(/--db-mode single → patroni.*starts empty.*pg_dump/);
    expect(readTree(first.cwd)).toEqual(before);

    await generate({ 'db-mode': 'patroni', force: true }, first.cwd);
    const after = readTree(first.cwd);
    expect(after['patroni/pg-1.yml']).toBeDefined();
    expect(after['postgres/create-grafana-db.sql']).toBeUndefined();
    // The secrets both modes share are kept; the new ones are created.
    expect(after['secrets/grafana-secret-key']).toBe(before['secrets/grafana-secret-key']);
    expect(after['secrets/postgres-replication-password']).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
