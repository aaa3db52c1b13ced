/**
 * The portal's own host is trusted: the operator chose `[ckan] url`, so a CKAN on a loopback or
 * private address syncs with an empty `[sync] allowed_hosts`. Trust goes to the portal's origin
 * (scheme, host and port), not to the whole host: another port of a loopback host is another
 * service on that machine (a database, an admin page), which is what the SSRF guard protects, and
 * other loopback addresses stay refused too.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { preflightResource } from '../../src/sync/source.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack({ config: { sync: { allowedHosts: [] } } });
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false });
}, 120_000);

afterAll(async () => {
  await daemon?.stop({ timeoutMs: 2000 });
  await stack?.close();
});

test('files of a CKAN on 127.0.0.1 are archived with no allowed_hosts', async () => {
  expect(new URL(stack.ckan.url).hostname).toBe('127.0.0.1');
  const dataset = taggedDataset('portal-on-loopback', [1500, 700]);
  stack.ckan.addDataset(dataset);
  const outcome = await daemon.syncNow(dataset.id as string);
  expect(outcome).toMatchObject({ state: 'done', kind: 'first_version' });
  const record = stack.zenodo.state.records.find((r) => r.doi === (outcome as { doi: string }).doi);
  expect(record).toBeDefined();
});

test.each([
  ['another loopback address', (port: string) => `http://127.0.0.2:${port}/file.csv`],
  ["another port of the portal's host", (port: string) => `http://127.0.0.1:${Number(port) + 1}/file.csv`],
  ['localhost by name', (port: string) => `http://localhost:${port}/file.csv`],
])('a resource on %s is still refused, before any draft', async (_what, url) => {
  const port = new URL(stack.ckan.url).port;
  const target = url(port);
  const policy = { allowedHosts: [], portalOrigin: new URL(stack.ckan.url).origin };
  expect(await preflightResource(target, { policy })).toMatchObject({ code: 'SSRF_REFUSED' });
  expect(await preflightResource(`${stack.ckan.url}/dataset/x/resource/y/download/f.csv`, { policy })).toBeUndefined();

  const dataset = taggedDataset(`elsewhere-${Math.random().toString(36).slice(2, 8)}`, [100]);
  const resources = dataset.resources as Record<string, unknown>[];
  dataset.resources = [{ ...resources[0], url_type: '', url: target }];
  stack.ckan.addDataset(dataset);
  const drafts = stack.zenodo.state.depositions.length;
  const outcome = await daemon.syncNow(dataset.id as string);
  expect(outcome).toMatchObject({ state: 'failed', code: 'SSRF_REFUSED' });
  expect(stack.zenodo.state.depositions.length).toBe(drafts);
});
