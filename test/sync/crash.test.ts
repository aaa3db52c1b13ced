/**
 * The crash test (issue "Sync", DESIGN.md state machine): a real process running the daemon's
 * sync code is killed with SIGKILL at seeded points — right after each recorded step, and a few
 * milliseconds later, in the middle of the next Zenodo call or upload — then restarted. After
 * every run each dataset has exactly one new published version per change, no draft is left
 * open, each mail is queued once, and the published files are byte-for-byte CKAN's.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { generatedBytes } from '../../src/emulators/ckan/content.js';
import { seededRandom } from '../../src/emulators/faults.js';
import { startStack, taggedDataset, type Stack } from '../support/stack.js';

const root = join(import.meta.dirname, '..', '..');
const RUNS = 50;
let stack: Stack;

const CHILD = `
import { pathToFileURL } from 'node:url';
const [dist, configJson, rulesJson, namesJson, killAfter, delayMs] = process.argv.slice(1);
const { startDaemon } = await import(pathToFileURL(dist + '/daemon.js').href);
const { silentLogger } = await import(pathToFileURL(dist + '/log.js').href);
let steps = 0;
const kill = Number(killAfter);
const daemon = await startDaemon({
  config: JSON.parse(configJson), rules: JSON.parse(rulesJson), log: silentLogger(), mode: 'worker', workers: false, schedule: false, http: false,
  onStep: () => {
    steps++;
    if (kill >= 0 && steps === kill) {
      const die = () => process.kill(process.pid, 'SIGKILL');
      if (Number(delayMs) === 0) die(); else setTimeout(die, Number(delayMs));
    }
  },
});
for (const name of JSON.parse(namesJson)) await daemon.syncNow(name);
process.stdout.write('steps=' + steps + '\\n');
await daemon.stop();
`;

function runChild(names: string[], killAfter: number, delayMs: number): Promise<{ signal: string | null; code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', CHILD, join(root, 'dist'), JSON.stringify(stack.config), JSON.stringify(stack.rules), JSON.stringify(names), String(killAfter), String(delayMs)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'daemon.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it) before this test');
  stack = await startStack();
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

test(`${RUNS} runs killed at seeded points all converge to exactly one version per change`, async () => {
  const random = seededRandom(20261122);
  const names = ['crash-a', 'crash-b', 'crash-c'];
  const datasets = names.map((n, i) => taggedDataset(n, [2000 + i, 70_000, 500]));
  for (const d of datasets) stack.ckan.addDataset(d);
  const content = new Map<string, Buffer>();
  for (const d of datasets) for (const r of d.resources as { id: string; size: number }[]) content.set(r.id, generatedBytes(r.id, r.size));

  // A clean first run tells how many steps a full pass records, so kill points cover them all.
  const clean = await runChild(names, -1, 0);
  expect(clean.code, clean.stderr).toBe(0);
  const stepsPerPass = Number(/steps=(\d+)/.exec(clean.stdout)?.[1]);
  expect(stepsPerPass).toBeGreaterThan(names.length * 5);

  const statesKilled = new Set<number>();
  let killedRuns = 0;
  for (let run = 0; run < RUNS; run++) {
    // One change per dataset per run: a resource's bytes change in CKAN.
    for (const d of datasets) {
      const r = (d.resources as { id: string }[])[run % 3]!;
      const bytes = Buffer.from(`run ${run} of ${d.name as string}: ${random()}\n`.repeat(1 + (run % 5) * 300));
      stack.ckan.setResourceContent(r.id, bytes);
      content.set(r.id, bytes);
    }
    const killAfter = 1 + Math.floor(random() * (stepsPerPass - 1));
    const delayMs = random() < 0.5 ? 0 : Math.floor(random() * 40);
    statesKilled.add(killAfter);
    const killed = await runChild(names, killAfter, delayMs);
    if (killed.signal === 'SIGKILL') killedRuns++;
    const restarted = await runChild(names, -1, 0);
    expect(restarted.code, `run ${run} (killed: ${killed.signal ?? killed.code}): ${restarted.stderr}`).toBe(0);

    for (const d of datasets) {
      const { rows } = await stack.db.pool.query<{ concept_recid: string }>('SELECT concept_recid FROM links WHERE dataset_id = $1', [d.id]);
      const records = stack.zenodo.state.records.filter((r) => r.conceptrecid === rows[0]?.concept_recid);
      // The first version plus one per run so far: never a duplicate, never a missed change.
      expect(records, `run ${run}, ${d.name as string}`).toHaveLength(run + 2);
      const latest = records.sort((a, b) => a.id - b.id).at(-1)!;
      for (const r of d.resources as { id: string; name: string }[]) {
        const file = latest.files.find((f) => f.key === r.name);
        expect(file?.md5, `run ${run}, ${r.name}`).toBe(md5(content.get(r.id)!));
        expect(md5(await readFile(file!.path))).toBe(file!.md5);
      }
    }
    expect(stack.zenodo.state.depositions.filter((x) => x.state !== 'done'), `open drafts after run ${run}`).toEqual([]);
  }
  // The kill really happened in (nearly) every run: a test that never kills proves nothing.
  expect(killedRuns).toBeGreaterThanOrEqual(RUNS * 0.8);
  expect(statesKilled.size).toBeGreaterThan(Math.min(stepsPerPass - 1, RUNS) / 2);

  // Each published version was announced once per owner, and no sync is left open.
  const mails = await stack.db.pool.query<{ n: string }>(`SELECT count(*) AS n FROM mail_outbox WHERE kind IN ('first_version', 'new_version')`);
  expect(Number(mails.rows[0]!.n)).toBe(names.length * (RUNS + 1));
  const open = await stack.db.pool.query(`SELECT id FROM sync_runs WHERE state NOT IN ('done', 'unchanged', 'failed')`);
  expect(open.rows).toEqual([]);
}, 600_000);
