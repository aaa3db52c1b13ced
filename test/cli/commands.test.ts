/**
 * The one-shot commands an operator types: `sync`, `status`, `link`, `retry`, run in-process
 * through the CLI entry point against the emulators and a real database.
 */
import { PassThrough, Readable } from 'node:stream';
import { createZenodoClient } from '../../src/zenodo/client.js';
import { silentLogger } from '../../src/log.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { main } from '../../src/cli.js';
import { startStack, taggedDataset, CKAN_TOKEN, ZENODO_TOKEN, type Stack } from '../support/stack.js';

let stack: Stack;
let settings: string;
let rules: string;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(args, { stdout, stderr, env: {} });
  return { code, stdout: out, stderr: err };
}

beforeAll(async () => {
  stack = await startStack();
  settings = join(stack.spoolDir, 'settings.ini');
  rules = join(stack.spoolDir, 'rules.yaml');
  await writeFile(
    settings,
    `[ckan]\nurl = ${stack.ckan.url}\napi_token = ${CKAN_TOKEN}\n[zenodo]\nurl = ${stack.zenodo.url}\ntoken = ${ZENODO_TOKEN}\n` +
      `[database]\nurl = ${stack.db.url}\n[sync]\nallowed_hosts = 127.0.0.1\nspool_dir = ${stack.spoolDir}\n[mail]\nsmtp_url = ${stack.smtp.url}\nfrom = Archive <archive@portal.test>\n[log]\nlevel = silent\n`,
  );
  await writeFile(rules, 'rules:\n  - name: tagged\n    when: { tags: [zenodo] }\n');
});

afterAll(async () => {
  await stack?.close();
});

test('sync prints each step and the DOIs; status shows the link and the history', async () => {
  stack.ckan.addDataset(taggedDataset('cli-one', [100, 200]));
  const sync = await cli('sync', 'cli-one', '--settings', settings, '--rules', rules);
  expect({ code: sync.code, stderr: sync.stderr }, sync.stdout).toEqual({ code: 0, stderr: '' });
  expect(sync.stdout).toMatch(/planned \(first_version: 2 file\(s\) to upload, 0 to remove\)/);
  expect(sync.stdout).toMatch(/files uploaded and verified/);
  const doi = /done: version DOI (10\.5281\/zenodo\.\d+), concept DOI (10\.5281\/zenodo\.\d+)/.exec(sync.stdout);
  expect(doi).not.toBeNull();

  const status = await cli('status', 'cli-one', '--settings', settings);
  expect({ code: status.code, stderr: status.stderr }).toEqual({ code: 0, stderr: '' });
  expect(status.stdout).toContain(`concept DOI: ${doi![2]!}`);
  expect(status.stdout).toContain(`latest version: ${doi![1]!}`);
  expect(status.stdout).toMatch(/done \(first_version\)/);

  const again = await cli('sync', 'cli-one', '--settings', settings, '--rules', rules);
  expect(again.stdout).toContain('skipped: up to date');

  const overview = await cli('status', '--settings', settings);
  expect(overview.code).toBe(0);
  expect(overview.stdout).toContain('recent versions:');
  expect(overview.stdout).toContain(doi![1]!);
});

test('link adopts an existing Zenodo record; the next sync publishes a new version of it', async () => {
  // A record made by hand on Zenodo, before the daemon knew the dataset.
  const client = createZenodoClient({ baseUrl: stack.zenodo.url, token: ZENODO_TOKEN, log: silentLogger() });
  const draft = await client.createDeposition({ title: 'Hand-made', upload_type: 'dataset', description: 'x', creators: [{ name: 'Doe, Jane' }] });
  await client.uploadFile(draft.bucketUrl!, 'old.csv', Readable.from([Buffer.from('a,b\n')]), 4);
  const record = await client.publish(draft.id);
  await client.close();

  stack.ckan.addDataset(taggedDataset('cli-adopter', [60]));
  const bad = await cli('link', 'cli-adopter', 'not-a-doi', '--settings', settings, '--rules', rules);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('is not a Zenodo record id, DOI');

  const linked = await cli('link', 'cli-adopter', `https://doi.org/${record.doi!}`, '--settings', settings, '--rules', rules);
  expect(linked.stderr).toBe('');
  expect(linked.stdout).toContain(`(${record.conceptDoi!})`);
  const synced = await cli('sync', 'cli-adopter', '--settings', settings, '--rules', rules);
  expect(synced.stdout).toMatch(/planned \(new_version: 1 file\(s\) to upload, 1 to remove\)/);
  expect(synced.stdout).toContain(`concept DOI ${record.conceptDoi!}`);
  const versions = stack.zenodo.state.records.filter((r) => r.conceptrecid === record.conceptRecid);
  expect(versions.map((v) => v.files.map((f) => f.key))).toEqual([['old.csv'], ['file-0.csv']]);

  // The same concept cannot be linked to a second dataset.
  stack.ckan.addDataset(taggedDataset('cli-second', [70]));
  const taken = await cli('link', 'cli-second', record.conceptRecid!, '--settings', settings, '--rules', rules);
  expect(taken.stderr).toContain('[LINK_CONFLICT]');
});

test('a failed sync is reported with its code, and retry runs it again once fixed', async () => {
  const dataset = taggedDataset('cli-fails', [10]);
  (dataset.resources as Record<string, unknown>[])[0]!.url = 'http://169.254.169.254/latest/meta-data/';
  (dataset.resources as Record<string, unknown>[])[0]!.url_type = null;
  stack.ckan.addDataset(dataset);
  const failed = await cli('sync', 'cli-fails', '--settings', settings, '--rules', rules);
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/failed \[SSRF_REFUSED\]: refused to download from 169\.254\.169\.254/);
  const status = await cli('status', 'cli-fails', '--settings', settings);
  expect(status.stdout).toContain('FAILED [SSRF_REFUSED]');

  stack.ckan.updateDataset('cli-fails', { resources: [{ id: `${dataset.id as string}-ok`, name: 'ok.csv', format: 'CSV', url_type: 'upload', url: 'http://x/ok.csv', size: 30 }] });
  const retried = await cli('retry', 'cli-fails', '--settings', settings, '--rules', rules);
  expect(retried.code).toBe(0);
  expect(retried.stdout).toMatch(/done: version DOI 10\.5281/);
});
