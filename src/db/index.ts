/** The public API of the database layer; everything else imports from here, never from `pg`. */
export {
  EMBEDDED_DATABASE,
  createPool,
  ensureDatabase,
  openDatabase,
  pgCode,
  startEmbeddedPostgres,
  toDbError,
  withTransaction,
  type Database,
  type EmbeddedPostgresOptions,
  type EmbeddedServer,
  type OpenDatabaseOptions,
  type Queryable,
  type TransactionOptions,
} from './database.js';
export { createSessionQueries, type SessionStore } from './session-queries.js';
export { checkSchema, defaultSqlDir, loadMigrations, migrate, migrationStatus, type MigrateOptions, type MigrateResult, type Migration } from './migrate.js';
