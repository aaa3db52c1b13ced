/**
 * Forward-only schema migrations: `sql/NNNN_name.sql`, applied in order, each in its own
 * transaction together with its `schema_migrations` row, so a migrator killed half way leaves
 * the database exactly before or after a migration, never in between.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { pgCode, toDbError } from './database.js';

/**
 * Key of the advisory lock every migrator holds while it works. Concurrent migrators (two
 * workers starting together) queue on it; the second then finds nothing left to do.
 */
const MIGRATION_LOCK_KEY = 4_263_317_201_771n;

export interface Migration {
  version: number;
  /** `0001_initial`: the file name without `.sql`. */
  name: string;
  checksum: string;
  sql: string;
}

export interface MigrateOptions {
  /** Where the migration files are; default: the package's `sql/` folder. */
  sqlDir?: string;
}

export interface MigrateResult {
  /** Names (`0001_initial`) of the migrations this call applied, in order. */
  applied: string[];
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9][a-z0-9_-]*)\.sql$/;

/** The `sql/` folder of this package, whether running from src/, dist/ or an npm-installed copy. */
export function defaultSqlDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown };
        if (parsed.name === 'ckan-zenodo-sync') return join(dir, 'sql');
      } catch {
        // An unreadable package.json on the way up is not ours; keep looking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new AppError('INTERNAL', 'cannot find the ckan-zenodo-sync package root (and its sql/ folder)');
    dir = parent;
  }
}

/** Reads and orders the migration files; a malformed name or a duplicate number is an error. */
export async function loadMigrations(sqlDir: string = defaultSqlDir()): Promise<Migration[]> {
  let names: string[];
  try {
    names = await readdir(sqlDir);
  } catch (error) {
    throw new AppError('DB_MIGRATION_FAILED', `cannot read the migrations folder ${sqlDir}`, { cause: error });
  }
  const migrations: Migration[] = [];
  for (const file of names.filter((n) => n.endsWith('.sql')).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new AppError('DB_MIGRATION_FAILED', `${join(sqlDir, file)}: migration files are named NNNN_name.sql (four digits, lower-case name)`);
    const sql = await readFile(join(sqlDir, file), 'utf8');
    const version = Number(match[1]);
    const previous = migrations.at(-1);
    if (previous && previous.version === version) {
      throw new AppError('DB_MIGRATION_FAILED', `two migrations share number ${match[1]}: ${previous.name}.sql and ${file}`);
    }
    migrations.push({ version, name: file.slice(0, -4), checksum: sha256(sql), sql });
  }
  return migrations;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Brings the database up to the newest migration. Refuses (without changing anything) a
 * database whose recorded migrations differ from the files (`DB_MIGRATION_CHANGED`) or that is
 * newer than this program (`DB_SCHEMA_TOO_NEW`).
 */
export async function migrate(db: { pool: pg.Pool }, log: Logger, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await loadMigrations(options.sqlDir);
  const applied: string[] = [];
  let client: pg.PoolClient;
  try {
    client = await db.pool.connect();
  } catch (error) {
    throw toDbError(error, 'cannot connect to run migrations');
  }
  let broken: Error | undefined;
  try {
    // Every step re-reads the record under the lock: what another migrator did while we waited
    // is then visible, and we neither re-apply nor misjudge it.
    for (;;) {
      const next = await inTransaction(client, async () => {
        await lock(client);
        const done = await readApplied(client);
        verify(migrations, done);
        const doneVersions = new Set(done.map((r) => r.version));
        const pending = migrations.find((m) => !doneVersions.has(m.version));
        if (!pending) return undefined;
        try {
          await client.query(pending.sql);
        } catch (error) {
          throw new AppError('DB_MIGRATION_FAILED', `migration ${pending.name} failed: ${error instanceof Error ? error.message : String(error)}`, {
            cause: error,
            details: { migration: pending.name, sqlState: pgCode(error) },
          });
        }
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [pending.version, pending.name, pending.checksum]);
        return pending;
      });
      if (!next) break;
      log.info({ migration: next.name }, 'applied migration');
      applied.push(next.name);
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    // Not an SQL error: the connection itself failed, so the pool must not reuse it.
    if (pgCode(error) === undefined) broken = error instanceof Error ? error : new Error(String(error));
    throw toDbError(error, 'migration failed');
  } finally {
    client.release(broken);
  }
  return { applied };
}

async function inTransaction<T>(client: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function lock(client: pg.PoolClient): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
  // Created under the lock: two first-time migrators racing on CREATE TABLE IF NOT EXISTS can
  // otherwise both pass the existence check and one fail on the catalog's unique index.
  await client.query(`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
}

async function readApplied(client: pg.PoolClient): Promise<AppliedRow[]> {
  const result = await client.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  return result.rows;
}

function verify(migrations: Migration[], done: AppliedRow[]): void {
  const known = migrations.at(-1)?.version ?? 0;
  const newest = done.at(-1);
  if (newest && newest.version > known) {
    throw new AppError(
      'DB_SCHEMA_TOO_NEW',
      `database is at migration ${newest.version} (${newest.name}) but this ckan-zenodo-sync only knows up to ${known}: upgrade the program or point it at another database`,
      { details: { databaseVersion: newest.version, knownVersion: known } },
    );
  }
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of done) {
    const file = byVersion.get(row.version);
    if (!file) {
      throw new AppError('DB_MIGRATION_CHANGED', `migration ${row.name} is recorded in the database but its file is missing: restore sql/${row.name}.sql`, {
        details: { migration: row.name },
      });
    }
    if (file.checksum !== row.checksum) {
      throw new AppError(
        'DB_MIGRATION_CHANGED',
        `migration ${row.name} was changed after it was applied (checksum differs): migrations are forward-only, put the change in a new migration and restore the original file`,
        { details: { migration: row.name, recorded: row.checksum, file: file.checksum } },
      );
    }
  }
}

/**
 * For the commands that must not change the schema (everything but `migrate`, `run` and
 * `worker`): reads the applied migrations and refuses a database that is behind this release
 * (`DB_SCHEMA_OUTDATED`), ahead of it (`DB_SCHEMA_TOO_NEW`) or whose migrations were changed.
 * Creates nothing, not even `schema_migrations`: a newer binary's `status` once upgraded a
 * production schema under the running daemon.
 */
export async function checkSchema(db: { pool: pg.Pool }, options: MigrateOptions = {}): Promise<void> {
  const migrations = await loadMigrations(options.sqlDir);
  let state: { applied: string[]; pending: string[] };
  try {
    state = await migrationStatus(db, options);
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw toDbError(error, 'cannot read the schema version');
  }
  if (state.pending.length === 0) return;
  const at = state.applied.length === 0 ? 0 : Number(state.applied.at(-1)!.slice(0, 4));
  const needs = migrations.at(-1)?.version ?? 0;
  throw new AppError(
    'DB_SCHEMA_OUTDATED',
    `the database schema is at version ${at}, this release needs ${needs}: run \`ckan-zenodo-sync migrate\` (pending: ${state.pending.join(', ')})`,
    { details: { databaseVersion: at, neededVersion: needs, pending: state.pending } },
  );
}

/** What migrate() would do, without doing it: for `status` and a start-up check. */
export async function migrationStatus(db: { pool: pg.Pool }, options: MigrateOptions = {}): Promise<{ applied: string[]; pending: string[] }> {
  const migrations = await loadMigrations(options.sqlDir);
  const exists = await db.pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  const done = exists.rows[0]?.t ? (await db.pool.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version')).rows : [];
  verify(migrations, done);
  const doneVersions = new Set(done.map((r) => r.version));
  return { applied: done.map((r) => r.name), pending: migrations.filter((m) => !doneVersions.has(m.version)).map((m) => m.name) };
}
