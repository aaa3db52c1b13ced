/**
 * The whole system on loopback for integration tests: a fresh migrated database, the CKAN and
 * Zenodo emulators, an SMTP capture server, and a Config that points the daemon at them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/types.js';
import type { Rules } from '../../src/rules/types.js';
import { startCkanEmulator, type CkanEmulator, type CkanEmulatorOptions } from '../../src/emulators/ckan/server.js';
import { startZenodoEmulator, type ZenodoEmulator, type ZenodoEmulatorOptions } from '../../src/emulators/zenodo/server.js';
import { startSmtpCapture } from '../../src/emulators/smtp.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { makeRule } from './rules.js';

export const CKAN_TOKEN = 'ckan-test-token';
export const ZENODO_TOKEN = 'test-token';

export interface Stack {
  db: TestDatabase;
  ckan: CkanEmulator;
  zenodo: ZenodoEmulator;
  smtp: Awaited<ReturnType<typeof startSmtpCapture>>;
  config: Config;
  rules: Rules;
  spoolDir: string;
  close(): Promise<void>;
}

export function testConfig(parts: { ckanUrl: string; zenodoUrl: string; databaseUrl: string; smtpUrl?: string; spoolDir: string }, overrides: Partial<{ [K in keyof Config]: Partial<Config[K]> }> = {}): Config {
  const base: Config = {
    settingsPath: undefined,
    ckan: { url: parts.ckanUrl, apiToken: CKAN_TOKEN, pageSize: 100, scanOverlapMs: 300_000, timeoutMs: 10_000 },
    zenodo: { url: parts.zenodoUrl, token: ZENODO_TOKEN, timeoutMs: 10_000 },
    database: { url: parts.databaseUrl, dataDir: join(parts.spoolDir, 'pg'), embeddedPort: 5433 },
    schedule: { scan: '*/15 * * * *', reconcile: '17 3 * * *', timezone: 'UTC' },
    sync: { concurrency: 2, writeBack: false, spoolDir: parts.spoolDir, allowedHosts: ['127.0.0.1'], linkExtra: 'zenodo_doi', metadataExtra: 'zenodo_metadata', maxAttempts: 8, drainTimeoutMs: 10_000, downloadTimeoutMs: 86_400_000, downloadMinRate: 10_000, downloadMinRateWindowMs: 60_000, spoolMaxBytes: 20 * 10 ** 9 },
    mail: { smtpUrl: parts.smtpUrl, from: 'Archive <archive@portal.test>', admin: 'admin@portal.test', templatesDir: undefined, connections: 4, allowPlaintextAuth: false },
    http: { listen: '127.0.0.1:0', token: 'http-test-token-5c1e9a7f3b2d8e40', publicStatus: false, trustProxy: false },
    retention: { days: 90 },
    log: { level: 'silent' },
  };
  for (const [section, values] of Object.entries(overrides)) Object.assign((base as unknown as Record<string, object>)[section]!, values);
  return base;
}

export async function startStack(options: { ckan?: CkanEmulatorOptions; zenodo?: ZenodoEmulatorOptions; config?: Parameters<typeof testConfig>[1] } = {}): Promise<Stack> {
  const spoolDir = await mkdtemp(join(tmpdir(), 'czs-stack-'));
  const db = await createTestDatabase();
  const ckan = await startCkanEmulator(options.ckan);
  const zenodo = await startZenodoEmulator({ rateLimit: false, ...options.zenodo });
  const smtp = await startSmtpCapture({});
  const config = testConfig({ ckanUrl: ckan.url, zenodoUrl: zenodo.url, databaseUrl: db.url, smtpUrl: smtp.url, spoolDir }, options.config);
  const rules: Rules = { file: 'rules.yaml', rules: [makeRule()] };
  return {
    db,
    ckan,
    zenodo,
    smtp,
    config,
    rules,
    spoolDir,
    async close() {
      await smtp.stop();
      await zenodo.close();
      await ckan.close();
      await db.drop();
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
/** A CKAN dataset dict tagged `zenodo` with uploaded resources of the given sizes. */
export function taggedDataset(name: string, sizes: number[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const id = `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`;
  return {
    id,
    name,
    title: `Dataset ${name}`,
    notes: 'Measurements from **sensors**.',
    author: 'Jane Doe; John Smith',
    maintainer_email: `${name}@owners.test`,
    license_id: 'cc-by',
    tags: [{ name: 'zenodo' }, { name: 'environment' }],
    extras: [],
    resources: sizes.map((size, i) => ({
      id: `${id.slice(0, 24)}${String(counter).padStart(8, '0')}${String(i).padStart(4, '0')}`,
      name: `file-${i}.csv`,
      format: 'CSV',
      url_type: 'upload',
      url: `http://ckan.invalid/dataset/${id}/resource/r${i}/download/file-${i}.csv`,
      size,
    })),
    ...extra,
  };
}
