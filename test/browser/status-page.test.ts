/**
 * The status pages in a real browser: sign in, find the archived datasets and their DOIs, read a
 * dataset's version timeline, queue a sync with "Archive now". Screenshots go to test/artifacts/.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createStatusQueries } from '../../src/db/status-queries.js';
import { createSessionQueries } from '../../src/db/session-queries.js';
import { startHttpServer, type HttpServer } from '../../src/http/server.js';
import { silentLogger } from '../../src/log.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { HOSTILE_TITLE, SEED, seedArchive } from '../http/seed.js';

const TOKEN = 'browser-test-token-5c0ffee';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test', 'artifacts');

let db: TestDatabase;
let server: HttpServer;
let context: BrowserContext;
let profile: string;
const triggered: string[] = [];
const dialogs: string[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await seedArchive(db);
  server = await startHttpServer({
    status: createStatusQueries(db.pool),
    sessions: createSessionQueries(db.pool),
    triggerSync: (id) => {
      triggered.push(id);
      return Promise.resolve({ queued: true, jobId: `job-${triggered.length}` });
    },
    metrics: () => Promise.resolve({ scans: {}, lastScan: undefined, syncs: {}, zenodoResponses: {}, zenodoRateLimited: 0, bytesUploaded: 0 }),
    config: { listen: '127.0.0.1:0', token: TOKEN, publicStatus: false, ckanUrl: 'https://ckan.example.org', scanCron: '*/15 * * * *' },
    log: silentLogger(),
  });
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), 'czs-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  context.on('page', watch);
  for (const page of context.pages()) watch(page);
});

function watch(page: Page): void {
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // A CSP violation (an inline script or style the policy blocks) shows up as a console error;
  // the 401 of the wrong-token attempt below is an expected one.
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 401/.test(message.text())) pageErrors.push(message.text());
  });
}

afterAll(async () => {
  await context?.close();
  await server?.close();
  await db?.drop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

it('signs in, lists the datasets with DOIs, shows a timeline and queues a sync', async () => {
  const page = context.pages()[0] ?? (await context.newPage());

  // Private by default: the overview sends the operator to the sign-in form.
  await page.goto(`${server.url}/`);
  expect(new URL(page.url()).pathname).toBe('/login');
  await page.getByLabel('Operator token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}/`);
  expect(page.url()).not.toContain(TOKEN);

  // Keyboard users land on the skip link first.
  await page.keyboard.press('Tab');
  expect(await page.locator(':focus').innerText()).toBe('Skip to content');

  const table = page.getByRole('table');
  await expect.poll(() => table.getByRole('row').count()).toBe(5); // header + 4 linked datasets
  const oceanRow = table.getByRole('row').filter({ hasText: SEED.ocean.title });
  expect(await oceanRow.getByRole('link', { name: SEED.ocean.conceptDoi }).getAttribute('href')).toBe(`https://doi.org/${SEED.ocean.conceptDoi}`);
  expect(await oceanRow.getByRole('link', { name: SEED.ocean.latestDoi }).getAttribute('href')).toBe(`https://doi.org/${SEED.ocean.latestDoi}`);
  expect(await oceanRow.innerText()).toContain('up to date');
  expect(await table.getByRole('row').filter({ hasText: SEED.failing.title }).innerText()).toContain('failed');
  expect(await table.getByRole('row').filter({ hasText: 'Untagged dataset' }).innerText()).toContain('untagged in CKAN');
  // The hostile title is shown as text, and nothing ran.
  expect(await table.getByRole('link', { name: HOSTILE_TITLE, exact: true }).count()).toBe(1);
  await expect.poll(() => page.getByRole('region', { name: 'Failures needing attention' }).innerText()).toContain('Share the Zenodo record');
  await page.screenshot({ path: join(ARTIFACTS, 'status-overview.png'), fullPage: true });

  // Search narrows the table.
  await page.getByLabel('Search by title or name').fill('ocean');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(/\?q=ocean/);
  await expect.poll(() => page.getByRole('table').getByRole('row').count()).toBe(2);

  await page.getByRole('link', { name: SEED.ocean.title, exact: true }).click();
  await page.waitForURL(`${server.url}/datasets/${SEED.ocean.id}`);
  expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(SEED.ocean.title);
  const timeline = page.getByRole('region', { name: 'Version history' });
  const entries = timeline.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3 }) });
  await expect.poll(() => entries.count()).toBe(2);
  const newest = await entries.first().innerText();
  expect(newest).toContain('Version 2024.2');
  expect(newest).toContain(SEED.ocean.latestDoi);
  expect(newest).toContain('replaced: temperatures.csv (1.45 MB)');
  expect(newest).toContain('added: readme.txt (2.05 kB)');
  expect(newest).toContain('removed: old-grid.nc');
  expect(await page.getByRole('region', { name: 'Mails sent' }).innerText()).toContain('owner@example.org');

  await page.getByLabel('Operator token').fill(TOKEN);
  await page.getByRole('button', { name: 'Archive now' }).click();
  await expect.poll(() => page.getByRole('status').innerText()).toBe('Sync queued.');
  // fetch, not the no-JavaScript form: the page did not navigate.
  expect(page.url()).toBe(`${server.url}/datasets/${SEED.ocean.id}`);
  expect(triggered).toEqual([SEED.ocean.id]);
  await page.screenshot({ path: join(ARTIFACTS, 'status-dataset.png'), fullPage: true });

  // A wrong token queues nothing and says so.
  await page.getByLabel('Operator token').fill('not-the-token');
  await page.getByRole('button', { name: 'Archive now' }).click();
  await expect.poll(() => page.getByRole('status').innerText()).toBe('Wrong token: nothing was queued.');
  expect(triggered).toHaveLength(1);

  await page.goto(`${server.url}/datasets/${SEED.hostile.id}`);
  expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(HOSTILE_TITLE);
  await page.screenshot({ path: join(ARTIFACTS, 'status-hostile.png'), fullPage: true });

  expect(dialogs).toEqual([]);
  expect(pageErrors).toEqual([]);
});
