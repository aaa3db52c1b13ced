/**
 * A migrator killed with SIGKILL in the middle of a migration leaves the database before that
 * migration (its tables absent, not recorded), and the next run completes it.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { silentLogger } from '../../src/log.js';
import { createEmptyTestDatabase, type TestDatabase } from '../support/db.js';

const root = join(import.meta.dirname, '..', '..');
let outDir: string;
let sqlDir: string;
let d: TestDatabase;

beforeAll(async () => {
  // Compile just the database layer into a private folder inside the package (so that `pg`
  // resolves from node_modules): building all of dist/ would race with other test runs and trip
  // over unrelated files.
  outDir = await mkdtemp(join(root, 'node_modules', '.czs-db-test-'));
  await promisify(execFile)(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict',
      '--skipLibCheck', '--esModuleInterop', '--types', 'node', '--rootDir', join(root, 'src'), '--outDir', outDir, join(root, 'src', 'db', 'index.ts')],
    { cwd: root },
  );
  sqlDir = await mkdtemp(join(tmpdir(), 'czs-crash-sql-'));
  await writeFile(join(sqlDir, '0001_first.sql'), 'CREATE TABLE first (x int);');
  // Sleeps only when the session asks for it (the killed child does, the re-run does not), so
  // that the file, and its checksum, is the same for both. The connection check makes the server
  // notice the dead client within 100 ms instead of finishing the sleep first.
  await writeFile(
    join(sqlDir, '0002_slow.sql'),
    `SET LOCAL client_connection_check_interval = '100ms';
     CREATE TABLE half_done (x int);
     SELECT pg_sleep(CASE WHEN current_setting('czs.slow', true) = 'on' THEN 120 ELSE 0 END);
     CREATE TABLE half_done_2 (x int);`,
  );
  d = await createEmptyTestDatabase();
}, 120_000);

afterAll(async () => {
  await d?.drop();
  await Promise.all([outDir, sqlDir].filter(Boolean).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The migrator in its own process (plain JS over the compiled code), so that it can be killed. */
const CHILD = `
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
const [outDir, url, sqlDir] = process.argv.slice(1);
const { createPool, migrate } = await import(pathToFileURL(join(outDir, 'db', 'index.js')).href);
const { silentLogger } = await import(pathToFileURL(join(outDir, 'log.js')).href);
const pool = createPool(url, { poolSize: 1 });
await migrate({ pool }, silentLogger(), { sqlDir });
await pool.end();
`;

async function names(sql: string): Promise<string[]> {
  return (await d.pool.query<{ n: string }>(sql)).rows.map((r) => r.n);
}

it('survives kill -9 in the middle of a migration', async () => {
  const slowUrl = new URL(d.url);
  slowUrl.searchParams.set('options', '-c czs.slow=on');
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, outDir, slowUrl.toString(), sqlDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));

  // Wait until the child is inside the slow migration (the condition, not a fixed delay).
  for (;;) {
    const busy = await d.pool.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%half_done%'", [d.name]);
    if (busy.rowCount === 1) break;
    if (child.exitCode !== null) throw new Error(`the migrator exited before the slow migration: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');

  expect(await names('SELECT name AS n FROM schema_migrations ORDER BY version')).toEqual(['0001_first']);
  expect(await names("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).toEqual(['first', 'schema_migrations']);

  const rerun = await migrate(d.db, silentLogger(), { sqlDir });
  expect(rerun.applied).toEqual(['0002_slow']);
  expect(await names("SELECT tablename AS n FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).toEqual(['first', 'half_done', 'half_done_2', 'schema_migrations']);
});
