/**
 * Many workers in one process: each running sync holds a database connection for its dataset
 * lock, so a pool sized for a few workers stalled every worker at once at `[sync] concurrency`
 * 16. All datasets must get archived however high the concurrency.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack({ config: { sync: { concurrency: 16 } } });
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'run', schedule: false, http: false, pollingIntervalSeconds: 0.5 });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
});

test('concurrency 16 archives 40 datasets without stalling', async () => {
  for (let i = 0; i < 40; i++) stack.ckan.addDataset(taggedDataset(`busy-${i}`, [500, 700]));
  expect((await daemon.scanNow()).enqueued).toBe(40);
  await daemon.idle(90_000);
  const { rows } = await stack.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM sync_runs WHERE state = 'done'`);
  expect(rows[0]!.n).toBe(40);
  expect(stack.zenodo.state.records).toHaveLength(40);
}, 120_000);
