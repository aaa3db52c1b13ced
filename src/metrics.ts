/**
 * In-process counters behind `/metrics`. Figures that live in the database (queue depth, outbox,
 * syncs by outcome over time) are read from there at scrape time; these are the ones only this
 * process knows: requests it sent and what it saw of the last scan.
 */
import type { ScanReport } from './scanner/scan.js';

export interface MetricsSnapshot {
  scans: Record<string, number>;
  lastScan: { seen: number; selected: number; enqueued: number; requests: number } | undefined;
  syncs: Record<string, number>;
  zenodoResponses: Record<string, number>;
  zenodoRateLimited: number;
  bytesUploaded: number;
}

export interface Metrics {
  scan(report: ScanReport): void;
  syncOutcome(state: string): void;
  zenodoResponse(status: number): void;
  uploaded(bytes: number): void;
  snapshot(): MetricsSnapshot;
}

export function createMetrics(): Metrics {
  const scans: Record<string, number> = {};
  const syncs: Record<string, number> = {};
  const zenodoResponses: Record<string, number> = {};
  let lastScan: MetricsSnapshot['lastScan'];
  let zenodoRateLimited = 0;
  let bytesUploaded = 0;
  return {
    scan(report) {
      scans[report.status] = (scans[report.status] ?? 0) + 1;
      if (report.status === 'done') lastScan = { seen: report.seen, selected: report.selected, enqueued: report.enqueued, requests: report.requests };
    },
    syncOutcome(state) {
      syncs[state] = (syncs[state] ?? 0) + 1;
    },
    zenodoResponse(status) {
      const key = `${Math.floor(status / 100)}xx`;
      zenodoResponses[key] = (zenodoResponses[key] ?? 0) + 1;
      if (status === 429) zenodoRateLimited++;
    },
    uploaded(bytes) {
      bytesUploaded += bytes;
    },
    snapshot() {
      return { scans: { ...scans }, lastScan, syncs: { ...syncs }, zenodoResponses: { ...zenodoResponses }, zenodoRateLimited, bytesUploaded };
    },
  };
}
