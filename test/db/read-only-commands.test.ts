/**
 * Only `migrate`, `run` and `worker` change the schema (operator report: a newer binary's
 * `status` upgraded the production schema under the running daemon). In-process through the CLI
 * entry point, against real empty and half-migrated databases.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { createEmptyTestDatabase, type TestDatabase } from '../support/db.js';

const dbs: TestDatabase[] = [];
let dir: string;
let settings: string;
let rules: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'czs-read-only-'));
  settings = join(dir, 'settings.ini');
  await writeFile(settings, '');
  rules = join(dir, 'rules.yaml');
  await writeFile(rules, 'rules:\n  - name: all\n    when:\n      tags: [zenodo]\n');
});
afterAll(async () => {
  for (const d of dbs) await d.drop();
  await rm(dir, { recursive: true, force: true });
});

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

async function cli(url: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await main([...args, '--settings', settings], {
    stdout: out.stream,
    stderr: err.stream,
    env: { DATABASE_URL: url, CKAN_ZENODO_CKAN_URL: 'http://127.0.0.1:9', CKAN_ZENODO_MAIL_FROM: 'Archive <archive@example.org>', ZENODO_TOKEN: 'test-token' },
  });
  return { code, stdout: out.text(), stderr: err.text() };
}

async function empty(): Promise<TestDatabase> {
  const d = await createEmptyTestDatabase();
  dbs.push(d);
  return d;
}

async function tables(d: TestDatabase): Promise<string[]> {
  const { rows } = await d.pool.query<{ name: string }>(
    "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
  );
  return rows.map((r) => r.name);
}

describe('read-only commands against a schema that is behind', () => {
  it('status against an empty database creates no table and says to run migrate', async () => {
    const d = await empty();
    const newest = (await loadMigrations()).at(-1)!.version;
    const result = await cli(d.url, 'status');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`the database schema is at version 0, this release needs ${newest}: run \`ckan-zenodo-sync migrate\``);
    expect(await tables(d)).toEqual([]);
  });

  it('scan --once --dry-run refuses a half-migrated schema and leaves it as it was', async () => {
    const d = await empty();
    const migrations = await loadMigrations();
    // A database the previous release migrated: all but the newest migration.
    expect((await cli(d.url, 'migrate')).code).toBe(0);
    const newest = migrations.at(-1)!;
    await d.pool.query('DELETE FROM schema_migrations WHERE version = $1', [newest.version]);
    const before = await d.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');

    const result = await cli(d.url, 'scan', '--once', '--dry-run', '--rules', rules);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`the database schema is at version ${migrations.at(-2)!.version}, this release needs ${newest.version}: run \`ckan-zenodo-sync migrate\``);
    expect((await d.pool.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows).toEqual(before.rows);

    const status = await cli(d.url, 'status');
    expect(status.stderr).toContain('run `ckan-zenodo-sync migrate`');
  });

  it('sync --dry-run refuses too, before talking to anyone', async () => {
    const d = await empty();
    const result = await cli(d.url, 'sync', 'some-dataset', '--dry-run', '--rules', rules);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('this release needs');
    expect((await tables(d)).filter((t) => t.startsWith('public.'))).toEqual([]);
  });
});

describe('migrate --dry-run', () => {
  it('lists the pending migrations and applies none; migrate then applies them', async () => {
    const d = await empty();
    const names = (await loadMigrations()).map((m) => m.name);
    const dry = await cli(d.url, 'migrate', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout.trim().split('\n')).toEqual(names.map((n) => `would apply ${n}`));
    expect(await tables(d)).toEqual([]);

    expect((await cli(d.url, 'migrate')).code).toBe(0);
    expect((await cli(d.url, 'migrate', '--dry-run')).stdout).toContain('database is up to date');
    const status = await cli(d.url, 'status');
    expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
  });
});
