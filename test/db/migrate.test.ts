import { afterEach, describe, expect, it } from 'vitest';
import { migrate, loadMigrations } from '../../src/db/migrate.js';
import { silentLogger } from '../../src/log.js';
import { createEmptyTestDatabase, createTestDatabase, type TestDatabase } from '../support/db.js';

const log = silentLogger();
const opened: TestDatabase[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((d) => d.drop()));
});

async function empty(): Promise<TestDatabase> {
  const d = await createEmptyTestDatabase();
  opened.push(d);
  return d;
}

describe('migrate', () => {
  it('applies every migration once, and nothing the second time', async () => {
    const d = await empty();
    const all = (await loadMigrations()).map((m) => m.name);
    expect(all[0]).toBe('0001_initial');
    expect((await migrate(d.db, log)).applied).toEqual(all);
    expect((await migrate(d.db, log)).applied).toEqual([]);
    const rows = await d.pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
    expect(rows.rows.map((r) => r.name)).toEqual(all);
  });

  it('test databases come migrated', async () => {
    const d = await createTestDatabase();
    opened.push(d);
    expect((await migrate(d.db, log)).applied).toEqual([]);
  });
});
