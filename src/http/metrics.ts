/**
 * Prometheus exposition (text format 0.0.4). Most figures are read from PostgreSQL at scrape
 * time rather than counted in memory: every process of a scaled-out deployment then reports the
 * same, restart-proof totals. Only what never reaches the database (requests made to Zenodo and
 * the 429s among them) comes from the process's own counters (src/metrics.ts).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { StatusQueries } from '../db/status-queries.js';
import type { MetricsSnapshot } from '../metrics.js';
import { SYNC_QUEUE } from './status-data.js';

export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** [a-zA-Z_:][a-zA-Z0-9_:]* */
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: MetricSample[];
}

/**
 * The daemon's in-process figures (src/metrics.ts `MetricsSnapshot`): only those that never reach
 * the database are used here, the rest is read from PostgreSQL so that every process agrees.
 */
export type ProcessFigures = Pick<MetricsSnapshot, 'zenodoResponses' | 'zenodoRateLimited'>;

const PREFIX = 'ckan_zenodo_sync_';

/** The counters only this process knows; served also while the database is down. */
export function zenodoFamilies(figures: ProcessFigures): MetricFamily[] {
  return [
    {
      name: `${PREFIX}zenodo_requests_total`,
      help: 'HTTP responses received from Zenodo by status class, counted by this process since it started.',
      type: 'counter',
      samples: Object.entries(figures.zenodoResponses).map(([codeClass, value]) => ({ labels: { code: codeClass }, value })),
    },
    {
      name: `${PREFIX}zenodo_rate_limited_total`,
      help: 'Zenodo answers with status 429 (rate limited), counted by this process since it started.',
      type: 'counter',
      samples: [{ value: figures.zenodoRateLimited }],
    },
  ];
}

/** The metric families the status server exposes, read from the database plus `counters`. */
export async function collectMetrics(status: StatusQueries, figures: ProcessFigures = { zenodoResponses: {}, zenodoRateLimited: 0 }): Promise<MetricFamily[]> {
  const [scanTotals, running, lastSuccess, lastScans, syncTotals, openSyncs, uploaded, queue, outbox, links] = await Promise.all([
    status.scanTotals(),
    status.runningScans(),
    status.lastSuccessfulScanAt(),
    status.lastScans(20),
    status.syncTotals(),
    status.openSyncTotals(),
    status.uploadedBytes(),
    status.queueDepth(SYNC_QUEUE),
    status.outboxByStatus(),
    status.linksByState(),
  ]);
  const lastScan = lastScans.find((s) => s.kind === 'scan' && s.status !== 'running');
  const families: MetricFamily[] = [
    {
      name: `${PREFIX}scans_total`,
      help: 'Finished scans and reconciliations by outcome (done, failed).',
      type: 'counter',
      samples: scanTotals.map((s) => ({ labels: { kind: s.kind, outcome: s.status }, value: s.count })),
    },
    {
      name: `${PREFIX}scans_running`,
      help: 'Scans and reconciliations running now.',
      type: 'gauge',
      samples: ['scan', 'reconcile'].map((kind) => ({ labels: { kind }, value: running.find((r) => r.key === kind)?.count ?? 0 })),
    },
    {
      name: `${PREFIX}last_successful_scan_timestamp_seconds`,
      help: 'Unix time at which the last successful scan ended (failed scans do not count).',
      type: 'gauge',
      samples: lastSuccess ? [{ value: lastSuccess.getTime() / 1000 }] : [],
    },
    {
      name: `${PREFIX}last_scan_datasets_seen`,
      help: 'Datasets read from CKAN by the last finished scan.',
      type: 'gauge',
      samples: lastScan ? [{ value: lastScan.datasetsSeen }] : [],
    },
    {
      name: `${PREFIX}last_scan_datasets_selected`,
      help: 'Datasets selected by the rules in the last finished scan.',
      type: 'gauge',
      samples: lastScan ? [{ value: lastScan.datasetsSelected }] : [],
    },
    {
      name: `${PREFIX}last_scan_timestamp_seconds`,
      help: 'Unix time at which the last finished scan ended, failed or not (alert on last_successful_scan_timestamp_seconds instead).',
      type: 'gauge',
      samples: lastScan?.finishedAt ? [{ value: lastScan.finishedAt.getTime() / 1000 }] : [],
    },
    {
      name: `${PREFIX}syncs_total`,
      help: 'Finished syncs by outcome (done, unchanged, failed).',
      type: 'counter',
      samples: syncTotals.map((s) => ({ labels: { outcome: s.key }, value: s.count })),
    },
    {
      name: `${PREFIX}syncs_open`,
      help: 'Syncs in progress by step.',
      type: 'gauge',
      samples: openSyncs.map((s) => ({ labels: { state: s.key }, value: s.count })),
    },
    {
      name: `${PREFIX}uploaded_bytes_total`,
      help: 'Bytes uploaded to Zenodo (files added or replaced).',
      type: 'counter',
      samples: [{ value: uploaded }],
    },
    ...zenodoFamilies(figures),
    {
      name: `${PREFIX}queue_jobs`,
      help: 'Jobs in the pg-boss queue by state.',
      type: 'gauge',
      samples: queue.map((q) => ({ labels: { queue: SYNC_QUEUE, state: q.key }, value: q.count })),
    },
    {
      name: `${PREFIX}mail_outbox`,
      help: 'Mails in the outbox by status.',
      type: 'gauge',
      samples: outbox.map((m) => ({ labels: { status: m.key }, value: m.count })),
    },
    {
      name: `${PREFIX}links`,
      help: 'Datasets linked to a Zenodo concept, by link state.',
      type: 'gauge',
      samples: links.map((l) => ({ labels: { state: l.key }, value: l.count })),
    },
  ];
  return families;
}

/**
 * Process figures, written by hand in the names prom-client uses so that existing dashboards
 * work: no extra dependency for six numbers.
 */
export interface ProcessMetrics {
  collect(): MetricFamily[];
  stop(): void;
}

export function startProcessMetrics(): ProcessMetrics {
  // The histogram samples the loop's delay every 20 ms; each scrape reads it and starts over, so
  // the figure says how the loop did since the previous scrape.
  const loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const startSeconds = Math.round((Date.now() - process.uptime() * 1000) / 1000);
  return {
    collect() {
      const memory = process.memoryUsage();
      const cpu = process.cpuUsage();
      // Empty until the first 20 ms tick: mean is NaN then, which is not a lag.
      const mean = Number.isFinite(loop.mean) ? loop.mean / 1e9 : 0;
      const p99 = loop.count > 0 ? loop.percentile(99) / 1e9 : 0;
      const max = loop.count > 0 ? loop.max / 1e9 : 0;
      loop.reset();
      return [
        { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', samples: [{ value: memory.rss }] },
        { name: 'process_heap_bytes', help: 'V8 heap in use, in bytes.', type: 'gauge', samples: [{ value: memory.heapUsed }] },
        { name: 'process_cpu_seconds_total', help: 'User and system CPU time spent, in seconds.', type: 'counter', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
        { name: 'process_start_time_seconds', help: 'Start time of the process since the Unix epoch, in seconds.', type: 'gauge', samples: [{ value: startSeconds }] },
        { name: 'nodejs_eventloop_lag_seconds', help: 'Mean event loop delay since the previous scrape, in seconds.', type: 'gauge', samples: [{ value: mean }] },
        { name: 'nodejs_eventloop_lag_p99_seconds', help: '99th percentile of the event loop delay since the previous scrape, in seconds.', type: 'gauge', samples: [{ value: p99 }] },
        { name: 'nodejs_eventloop_lag_max_seconds', help: 'Largest event loop delay since the previous scrape, in seconds.', type: 'gauge', samples: [{ value: max }] },
      ];
    },
    stop() {
      loop.disable();
    },
  };
}

/** The package version (package.json is at the same depth from src/http and dist/http). */
export function packageVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function buildInfo(version: string): MetricFamily {
  return {
    name: `${PREFIX}build_info`,
    help: 'Always 1; the labels say which release and Node.js version run.',
    type: 'gauge',
    samples: [{ labels: { version, node: process.version }, value: 1 }],
  };
}

/** Whether the database answered the scrape: 0 means the database-derived figures are missing or stale. */
export function databaseUp(up: boolean): MetricFamily {
  return { name: `${PREFIX}database_up`, help: 'Whether the database answered this scrape (1) or not (0).', type: 'gauge', samples: [{ value: up ? 1 : 0 }] };
}

/** Label values: backslash, double quote and line feed are escaped (exposition format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and line feed are escaped. */
function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    // A bad name is a programming error here, but it must not produce a body Prometheus rejects
    // as a whole (one bad line fails the entire scrape).
    if (!METRIC_NAME.test(family.name)) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {}).filter(([k]) => LABEL_NAME.test(k));
      const labelText = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
      lines.push(`${family.name}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
