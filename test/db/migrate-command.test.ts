/** `ckan-zenodo-sync migrate` as an operator runs it (in-process through the CLI entry point). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { createEmptyTestDatabase, type TestDatabase } from '../support/db.js';

let d: TestDatabase;
let dir: string;
let settings: string;
beforeAll(async () => {
  d = await createEmptyTestDatabase();
  // An explicit (empty) settings file, so that a settings.ini lying in the working directory
  // cannot change what the test runs against: everything comes from the environment.
  dir = await mkdtemp(join(tmpdir(), 'czs-migrate-cmd-'));
  settings = join(dir, 'settings.ini');
  await writeFile(settings, '');
});
afterAll(async () => {
  await d.drop();
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

async function run(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await main(['migrate', '--settings', settings], { stdout: out.stream, stderr: err.stream, env: { CKAN_ZENODO_CKAN_URL: 'https://ckan.example.org', CKAN_ZENODO_MAIL_FROM: 'Archive <archive@example.org>', ...env } });
  return { code, stdout: out.text(), stderr: err.text() };
}

it('migrates the database named by DATABASE_URL, then reports it up to date', async () => {
  const first = await run({ DATABASE_URL: d.url });
  expect(first).toMatchObject({ code: 0, stderr: '' });
  expect(first.stdout).toContain('applied 0001_initial');

  const second = await run({ DATABASE_URL: d.url });
  expect(second.code).toBe(0);
  expect(second.stdout).toContain('database is up to date');
  // The embedded test server has a password; what the command prints must not show it.
  const password = decodeURIComponent(new URL(d.url).password);
  if (password !== '') expect(second.stdout + second.stderr).not.toContain(password);
});

it('refuses a database from a newer version with a message that says what to do', async () => {
  expect((await run({ DATABASE_URL: d.url })).code).toBe(0);
  await d.pool.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, '9999_future', 'x')");
  const result = await run({ DATABASE_URL: d.url });
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('database is at migration 9999');
  expect(result.stderr).toContain('upgrade the program or point it at another database');
  expect(result.stderr).toContain('DB_SCHEMA_TOO_NEW');
  await d.pool.query('DELETE FROM schema_migrations WHERE version = 9999');
});
