/**
 * The demo's status page in a real browser (issue "status page"): `runDemo` archives the sample
 * datasets on the emulators and keeps serving; the browser finds the datasets with their DOIs,
 * reads a dataset's version timeline, and queues a sync with "Archive now" and the operator token.
 * A dataset titled with a <script> tag renders as text. Screenshots go to test/artifacts/.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { runDemo, HTTP_TOKEN } from '../../src/demo/demo.js';
import { loadRules } from '../../src/rules/load.js';
import { silentLogger } from '../../src/log.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test', 'artifacts');
const HOSTILE = 'Harbour sensors <script>alert(1)</script>';

let url: string;
let stop: () => void;
let demo: Promise<void>;
let context: BrowserContext;
let profile: string;
const output: string[] = [];
const dialogs: string[] = [];

beforeAll(async () => {
  const { rules } = await loadRules(fileURLToPath(new URL('../../rules.yaml', import.meta.url)));
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const serving = new Promise<string>((resolve, reject) => {
    demo = runDemo({
      rules: rules!,
      log: silentLogger(),
      out: (line) => output.push(line),
      serve: true,
      port: 0,
      untilStopped: stopped,
      onServing: resolve,
      extraDatasets: [
        {
          id: '9e1f0c2a-4b5d-4e6f-8a7b-0c1d2e3f4a5b',
          name: 'harbour-sensors',
          title: HOSTILE,
          notes: 'Water level sensors.',
          // A record needs someone to name as creator (else it is not published: CREATORS_UNKNOWN).
          author: 'Harbour Authority',
          maintainer_email: 'harbour@example.org',
          license_id: 'cc-by',
          tags: [{ name: 'zenodo' }],
          resources: [{ id: '9e1f0c2a-4b5d-4e6f-8a7b-0c1d2e3f4a5c', name: 'levels.csv', format: 'CSV', url_type: 'upload', url: 'http://x/levels.csv', size: 2048 }],
        },
      ],
    });
    demo.catch(reject);
  });
  url = await serving;
  await mkdir(ARTIFACTS, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), 'czs-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  stop?.();
  await demo;
  if (profile) await rm(profile, { recursive: true, force: true });
});

it("shows the demo's datasets with their DOIs, a timeline, and queues a sync with Archive now", async () => {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });

  await page.goto(`${url}/`);
  const table = page.getByRole('table');
  // Three samples, the hostile one, archived; each row shows its concept DOI as a doi.org link.
  await expect.poll(() => table.getByRole('row').count()).toBe(5);
  const greek = table.getByRole('row').filter({ hasText: 'Αλατότητα Αιγαίου' });
  const doiLinks = greek.getByRole('link', { name: /^10\.5072\/zenodo\.\d+$/ });
  expect(await doiLinks.count()).toBe(2);
  expect(await doiLinks.first().getAttribute('href')).toMatch(/^https:\/\/doi\.org\/10\.5072\/zenodo\.\d+$/);
  // The <script> title is text, not markup: the link's text is the title itself, and no dialog opened.
  expect(await table.getByRole('link', { name: HOSTILE, exact: true }).count()).toBe(1);
  await page.screenshot({ path: join(ARTIFACTS, 'demo-overview.png'), fullPage: true });

  // The Greek dataset got a new version in the demo's second scan: two entries on its timeline.
  await table.getByRole('link', { name: /Αλατότητα Αιγαίου/ }).first().click();
  await page.waitForURL(/\/datasets\//);
  const timeline = page.getByRole('region', { name: 'Version history' });
  const entries = timeline.getByRole('listitem').filter({ has: page.getByRole('heading', { level: 3 }) });
  await expect.poll(() => entries.count()).toBe(2);
  expect(await entries.first().innerText()).toContain('ctd_profiles_2023.nc');

  await page.getByLabel('Operator token').fill(HTTP_TOKEN);
  await page.getByRole('button', { name: 'Archive now' }).click();
  await expect.poll(() => page.getByRole('status').innerText()).toBe('Sync queued.');
  await page.screenshot({ path: join(ARTIFACTS, 'demo-dataset.png'), fullPage: true });

  await page.goto(`${url}/`);
  await table.getByRole('link', { name: HOSTILE, exact: true }).click();
  await page.waitForURL(/\/datasets\//);
  expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(HOSTILE);
  await page.screenshot({ path: join(ARTIFACTS, 'demo-hostile.png'), fullPage: true });
  expect(dialogs).toEqual([]);
  expect(output.join('\n')).toContain('Status page: http://127.0.0.1:');
}, 120_000);
