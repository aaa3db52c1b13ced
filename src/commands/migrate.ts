import type { DestinationStream } from 'pino';
import { loadConfig } from '../config/settings.js';
import { migrate, migrationStatus, openDatabase } from '../db/index.js';
import { createLogger, redactUrl } from '../log.js';
import { configSecrets } from './runtime.js';
import { print, type Command } from './command.js';

/**
 * `ckan-zenodo-sync migrate`: creates or upgrades the schema, then exits. `run` and `worker`
 * migrate on start-up too; this command is for operators who upgrade deliberately (and for
 * checking that a database is usable before starting anything).
 */
export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'create or upgrade the database schema, then exit',
  usage: `
Usage: ckan-zenodo-sync migrate [--dry-run] [--settings FILE]

Applies the migrations this version ships that the database does not have yet, each in its own
transaction, under a lock that makes concurrent migrators wait for each other. With an empty
[database] url, the embedded PostgreSQL in [database] data_dir is started (and created on first
use) for the duration of the command. DATABASE_URL overrides [database] url.

Refuses, without changing anything, a database migrated by a newer ckan-zenodo-sync, and one whose
applied migrations differ from the files shipped.

Only migrate, run and worker change the schema; every other command refuses a database whose schema
is behind this release and asks for this command.

Options:
  --dry-run             list the migrations that would be applied, apply nothing
  -s, --settings FILE   settings.ini to read (default: ./settings.ini when present)
`,
  options: { settings: { type: 'string', short: 's' }, 'dry-run': { type: 'boolean' } },
  async run({ values, io }) {
    const config = await loadConfig({ path: typeof values.settings === 'string' ? values.settings : undefined, env: io.env });
    // The command prints its own result; logs (to stderr) only say more when asked to.
    const verbose = config.log.level === 'debug' || config.log.level === 'trace';
    const log = createLogger({ level: verbose ? config.log.level : 'warn', secrets: configSecrets(config), pretty: false, destination: io.stderr as unknown as DestinationStream });
    const where = config.database.url ? redactUrl(config.database.url) : `the embedded PostgreSQL in ${config.database.dataDir}`;
    const db = await openDatabase(config.database, log, { poolSize: 1 });
    try {
      if (values['dry-run'] === true) {
        const { pending } = await migrationStatus(db);
        if (pending.length === 0) print(io.stdout, `database is up to date (${where})`);
        for (const name of pending) print(io.stdout, `would apply ${name}`);
        return 0;
      }
      const { applied } = await migrate(db, log);
      if (applied.length === 0) print(io.stdout, `database is up to date (${where})`);
      for (const name of applied) print(io.stdout, `applied ${name}`);
    } finally {
      await db.close();
    }
    return 0;
  },
};
