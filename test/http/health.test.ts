/**
 * /healthz tells the truth about the whole daemon (operator report: it stayed 200 while CKAN was
 * down and every scan failed). Real daemon, real PostgreSQL, the CKAN emulator failing every
 * package_search; time passing is simulated by moving the recorded scans back, never by sleeping.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';
import { parsePrometheus, type ParsedFamily } from './prometheus.js';

let stack: Stack;
let daemon: Daemon;

beforeAll(async () => {
  stack = await startStack();
  stack.ckan.addDataset(taggedDataset('health-one', [100]));
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log: silentLogger(), mode: 'run', schedule: false, workers: false });
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
});

async function health(): Promise<{ status: number; body: { status: string; reason?: string } }> {
  const response = await fetch(`${daemon.httpUrl!}/healthz`);
  return { status: response.status, body: (await response.json()) as { status: string; reason?: string } };
}

async function scrape(): Promise<Map<string, ParsedFamily>> {
  const response = await fetch(`${daemon.httpUrl!}/metrics`);
  expect(response.status).toBe(200);
  return parsePrometheus(await response.text());
}

function value(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  return families.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Every counter sample of `before` is still there in `after`, and not smaller. */
function expectMonotonic(before: Map<string, ParsedFamily>, after: Map<string, ParsedFamily>): void {
  for (const family of before.values()) {
    if (family.type !== 'counter') continue;
    for (const sample of family.samples) {
      const later = value(after, family.name, sample.labels);
      expect(later, `${family.name}${JSON.stringify(sample.labels)}`).toBeDefined();
      expect(later!, `${family.name}${JSON.stringify(sample.labels)}`).toBeGreaterThanOrEqual(sample.value);
    }
  }
}

/** As if `minutes` had passed since every recorded scan. */
async function age(minutes: number): Promise<void> {
  await stack.db.pool.query(
    `UPDATE scan_runs SET started_at = started_at - make_interval(mins => $1), finished_at = finished_at - make_interval(mins => $1)`,
    [minutes],
  );
}

describe('/healthz while CKAN is down', () => {
  test('turns 503 once no scan has succeeded for two scan intervals, and back to 200 after a good scan', async () => {
    expect((await daemon.scanNow()).status).toBe('done');
    expect(await health()).toMatchObject({ status: 200, body: { status: 'ok' } });
    const first = await scrape();
    const lastGood = value(first, 'ckan_zenodo_sync_last_successful_scan_timestamp_seconds');
    expect(lastGood).toBeGreaterThan(0);

    stack.ckan.setFaults([{ route: 'package_search', kind: '500', probability: 1 }]);
    await expect(daemon.scanNow()).rejects.toThrow();
    // One failed scan inside the allowance is not yet an outage.
    expect((await health()).status).toBe(200);

    // The schedule is every 15 min: 31 min without success is more than two intervals.
    await age(31);
    await expect(daemon.scanNow()).rejects.toThrow();
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.reason).toMatch(/^no successful scan for 31 min \(expected every 15 min; the last scan failed\)/);

    const second = await scrape();
    expectMonotonic(first, second);
    expect(value(second, 'ckan_zenodo_sync_scans_total', { kind: 'scan', outcome: 'failed' })).toBe(2);
    // Failed scans move the last-scan time, never the last-successful-scan time an alert watches.
    expect(value(second, 'ckan_zenodo_sync_last_successful_scan_timestamp_seconds')).toBe(lastGood! - 31 * 60);
    expect(value(second, 'ckan_zenodo_sync_last_scan_timestamp_seconds')).toBeGreaterThan(lastGood!);

    stack.ckan.setFaults([]);
    expect((await daemon.scanNow()).status).toBe('done');
    expect(await health()).toMatchObject({ status: 200, body: { status: 'ok' } });
    const third = await scrape();
    expectMonotonic(second, third);
    expect(value(third, 'ckan_zenodo_sync_scans_total', { kind: 'scan', outcome: 'done' })).toBe(2);
  }, 60_000);

  test('/livez answers without asking anything else', async () => {
    const response = await fetch(`${daemon.httpUrl!}/livez`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'alive' });
  });
});
