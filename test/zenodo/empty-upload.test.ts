/**
 * A 0-byte resource once killed the daemon: the client destroyed the unread undici download body
 * to refuse the empty upload, undici then emits RequestAbortedError, nothing listened, and the
 * process died with an unhandled 'error' (again at every restart, resuming the same sync). Such a
 * crash would take the test runner down with it, so it runs in a child process: the built
 * client and download code (dist/) upload an empty CKAN download the way the sync worker does.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

const CHILD = `
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
const dist = process.argv[1];
const load = (p) => import(pathToFileURL(join(dist, p)).href);
const { createZenodoClient } = await load('zenodo/client.js');
const { startZenodoEmulator } = await load('emulators/zenodo/server.js');
const { openSource, createSpoolBudget } = await load('sync/source.js');
const { silentLogger } = await load('log.js');

// A CKAN-like file server whose resource is empty: 200 with Content-Length: 0.
const files = createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/csv', 'content-length': '0' }); res.end(); });
await new Promise((r) => files.listen(0, '127.0.0.1', r));
const fileUrl = 'http://127.0.0.1:' + files.address().port + '/dataset/x/resource/y/download/empty.csv';
const emu = await startZenodoEmulator({ tokens: ['t'], rateLimit: false });
const client = createZenodoClient({ baseUrl: emu.url, token: 't', log: silentLogger(), retry: { maxAttempts: 3, baseDelayMs: 1 } });
const spoolDir = await mkdtemp(join(tmpdir(), 'czs-empty-'));
const source = { ckanUrl: 'http://127.0.0.1:' + files.address().port, ckanToken: 'ckan-token', policy: { allowedHosts: ['127.0.0.1'] }, spoolDir, userAgent: 'test', timeoutMs: 5000, limits: { timeoutMs: 60000, minRate: 0, minRateWindowMs: 60000 }, spool: createSpoolBudget(10 ** 9) };
const draft = await client.createDeposition({ title: 'Empty' });
const before = emu.requests.length;
const codes = [];
const settle = async () => { for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); };

// As the sync worker uploads: the retrying upload over the real download.
await client.uploadFileWithRetry(draft.bucketUrl, 'empty.csv', () => openSource(fileUrl, source)).catch((e) => codes.push(e.code));
await settle();
// One bare attempt with an unread undici body.
const res = await request(fileUrl);
await client.uploadFile(draft.bucketUrl, 'empty.csv', res.body, 0).catch((e) => codes.push(e.code));
await settle();
// A download opened and released unread.
const opened = await openSource(fileUrl, source);
await opened.cleanup();
await settle();

process.stdout.write(JSON.stringify({ codes, zenodoRequests: emu.requests.length - before }) + '\\n');
await client.close();
await emu.close();
await new Promise((r) => files.close(r));
await rm(spoolDir, { recursive: true, force: true });
`;

function runChild(): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, join(root, 'dist')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'zenodo', 'client.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it) before this test');
});

test('an empty file is refused with ZENODO_EMPTY_FILE before any request, and the process lives on', async () => {
  const result = await runChild();
  expect(result.stderr).not.toMatch(/RequestAbortedError|Unhandled|uncaught/i);
  expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null });
  expect(JSON.parse(result.stdout)).toEqual({ codes: ['ZENODO_EMPTY_FILE', 'ZENODO_EMPTY_FILE'], zenodoRequests: 0 });
});
