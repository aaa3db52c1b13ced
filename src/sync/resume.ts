/**
 * What a starting process does with the syncs left open (DESIGN.md "crash-safe"). Attempts
 * belong to a sync, not to a process start: a sync whose job is waiting out its retry backoff
 * keeps waiting (a restart neither skips the backoff nor spends an attempt), and a dataset whose
 * job is still in the queue never gets a second job, which after the first sync failed would
 * start a second sync with its own draft and its own failure mails.
 */
import type pg from 'pg';
import { openSyncDatasets } from '../db/locks.js';

export interface ResumePlan {
  /** Open syncs with no job at all (e.g. a one-shot `sync` that died): queue one. */
  enqueue: string[];
  /** Open syncs whose job pg-boss still shows running (its process died): run now, under the dataset lock. */
  run: string[];
  /** Open syncs whose job waits out the backoff of a real failure: left to the queue. */
  waiting: string[];
}

/**
 * Sorts the open syncs and makes jobs that were only interrupted (drain timeout at shutdown,
 * handed back by the reaper) due now: they failed through no fault of their dataset, so their
 * backoff would only delay the resume. A job failed by the sync itself carries the error's
 * `code` in its output (pg-boss serialises the thrown AppError); an interruption does not.
 */
export async function planResumes(pool: pg.Pool, syncQueue: string): Promise<ResumePlan> {
  const plan: ResumePlan = { enqueue: [], run: [], waiting: [] };
  const open = [...new Set(await openSyncDatasets(pool))];
  if (open.length === 0) return plan;
  const { rows } = await pool.query<{ id: string; key: string; state: string; errored: boolean; due: boolean }>(
    `SELECT id, singleton_key AS key, state::text AS state, COALESCE(output ? 'code', false) AS errored, start_after <= now() AS due
       FROM pgboss.job
      WHERE name = $1 AND state IN ('created', 'retry', 'active') AND singleton_key = ANY($2::text[])`,
    [syncQueue, open],
  );
  for (const datasetId of open) {
    const jobs = rows.filter((r) => r.key === datasetId);
    if (jobs.length === 0) {
      plan.enqueue.push(datasetId);
      continue;
    }
    const interrupted = jobs.filter((j) => j.state === 'retry' && !j.errored && !j.due);
    if (interrupted.length > 0) {
      await pool.query(`UPDATE pgboss.job SET start_after = now() WHERE name = $1 AND id = ANY($2::uuid[]) AND state = 'retry'`, [syncQueue, interrupted.map((j) => j.id)]);
    }
    if (jobs.some((j) => j.state === 'active') && !jobs.some((j) => j.state === 'created' || (j.state === 'retry' && (j.due || !j.errored)))) plan.run.push(datasetId);
    else if (jobs.every((j) => j.state === 'retry' && j.errored && !j.due)) plan.waiting.push(datasetId);
  }
  return plan;
}
