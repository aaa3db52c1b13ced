/**
 * Token hygiene through a whole faulty run (issue "Measured and hardened"): Zenodo failing, a
 * resource on another host, a dataset that fails for good, mails over an authenticated SMTP
 * server. No token, password or Authorization value may appear in the logs, the mails, the
 * status API and page, or the CLI's error output; the other host never gets the CKAN token.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { createLogger } from '../../src/log.js';
import { isAppError } from '../../src/errors.js';
import { main } from '../../src/cli.js';
import { startSmtpCapture } from '../../src/emulators/smtp.js';
import { startStack, taggedDataset, CKAN_TOKEN, ZENODO_TOKEN, type Stack } from '../support/stack.js';

const HTTP_TOKEN = 'http-secret-token-7f3a';
const SMTP_PASSWORD = 'smtp-pass-word-91d2';
const SECRETS = [CKAN_TOKEN, ZENODO_TOKEN, HTTP_TOKEN, SMTP_PASSWORD];

let stack: Stack;
let daemon: Daemon;
let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;
let other: Server;
let otherUrl: string;
const otherHeaders: IncomingHttpHeaders[] = [];
let logs = '';

beforeAll(async () => {
  other = createServer((req, res) => {
    otherHeaders.push(req.headers);
    res.writeHead(200, { 'content-length': '12' }).end('remote bytes');
  });
  other.listen(0, '127.0.0.2');
  await once(other, 'listening');
  otherUrl = `http://127.0.0.2:${(other.address() as { port: number }).port}`;
  smtp = await startSmtpCapture({ auth: { user: 'archive', pass: SMTP_PASSWORD } });
  stack = await startStack({
    zenodo: { faultSeed: 3 },
    config: {
      sync: { allowedHosts: ['127.0.0.1', '127.0.0.2'], maxAttempts: 1000 },
      // The capture server offers no STARTTLS: a local relay, as allow_plaintext_auth is meant for.
      mail: { smtpUrl: `smtp://archive:${SMTP_PASSWORD}@127.0.0.1:${smtp.port}`, allowPlaintextAuth: true },
      http: { token: HTTP_TOKEN, listen: '127.0.0.1:0' },
      log: { level: 'debug' },
    },
  });
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((logs += chunk.toString()), done()) });
  const log = createLogger({ level: 'debug', secrets: SECRETS, pretty: false, destination: sink });
  daemon = await startDaemon({ config: stack.config, rules: stack.rules, log, mode: 'run', schedule: false, workers: false });
});

afterAll(async () => {
  await daemon?.stop();
  await stack?.close();
  await smtp?.stop();
  other?.close();
});

async function syncUntilSettled(name: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    try {
      await daemon.syncNow(name);
      return;
    } catch (error) {
      if (!isAppError(error) || !error.retryable) throw error;
    }
  }
}

test('no secret leaks anywhere in a faulty run, and the other host never sees the CKAN token', async () => {
  const remote = taggedDataset('remote-file', [100]);
  Object.assign((remote.resources as Record<string, unknown>[])[0]!, { url: `${otherUrl}/data.csv`, url_type: null });
  const broken = taggedDataset('metadata-service', [100]);
  Object.assign((broken.resources as Record<string, unknown>[])[0]!, { url: 'http://169.254.169.254/latest/meta-data/iam', url_type: null });
  const plain = taggedDataset('plain', [5000]);
  for (const d of [remote, broken, plain]) stack.ckan.addDataset(d);

  stack.zenodo.setFaults([
    { route: 'any', kind: '503', probability: 0.15 },
    { route: 'any', kind: 'reset', probability: 0.1 },
  ]);
  for (const name of ['remote-file', 'metadata-service', 'plain']) await syncUntilSettled(name);
  stack.zenodo.setFaults([]);
  await daemon.idle(30_000);

  // The remote file was downloaded, without the CKAN token.
  expect(otherHeaders.length).toBeGreaterThan(0);
  for (const h of otherHeaders) expect(h.authorization).toBeUndefined();

  // A permanent failure was mailed (owner + admin), so error texts went through the mails.
  await smtp.waitForMessages(4, 10_000); // two first versions, the failure to owner and admin
  const mails = smtp.messages.map((m) => m.raw).join('\n');
  expect(mails).toContain('169.254.169.254');

  // The status API and page, read with the token.
  const headers = { authorization: `Bearer ${HTTP_TOKEN}` };
  const status = await (await fetch(`${daemon.httpUrl!}/api/status`, { headers })).text();
  const page = await (await fetch(`${daemon.httpUrl!}/`, { headers })).text();
  const datasetPage = await (await fetch(`${daemon.httpUrl!}/datasets/${broken.id as string}`, { headers })).text();
  expect(status).toContain('SSRF_REFUSED');

  // The CLI's output when a sync fails.
  const settings = join(stack.spoolDir, 'settings.ini');
  await writeFile(settings, `[ckan]\nurl = ${stack.ckan.url}\napi_token = ${CKAN_TOKEN}\n[zenodo]\nurl = ${stack.zenodo.url}\ntoken = ${ZENODO_TOKEN}\n[database]\nurl = ${stack.db.url}\n[log]\nlevel = debug\n`);
  const rules = join(stack.spoolDir, 'rules.yaml');
  await writeFile(rules, 'rules:\n  - name: tagged\n    when: { tags: [zenodo] }\n');
  const out = new PassThrough();
  const err = new PassThrough();
  let cli = '';
  out.on('data', (c: Buffer) => (cli += c.toString()));
  err.on('data', (c: Buffer) => (cli += c.toString()));
  stack.ckan.addDataset(taggedDataset('cli-broken', [10], { resources: [{ id: 'cli-broken-r', name: 'x.csv', url: 'file:///etc/passwd', format: 'CSV' }] }));
  expect(await main(['sync', 'cli-broken', '--settings', settings, '--rules', rules], { stdout: out, stderr: err, env: {} })).toBe(1);
  expect(cli).toContain('SSRF_REFUSED');

  expect(logs.length).toBeGreaterThan(1000);
  expect(logs).toContain('sync failed');
  for (const [where, text] of Object.entries({ logs, mails, status, page, datasetPage, cli })) {
    for (const secret of SECRETS) expect(text.includes(secret), `${secret} in ${where}`).toBe(false);
    expect(/authorization["']?\s*[:=]\s*["']?(Bearer|Token)?\s*[A-Za-z0-9-]{8,}/i.test(text), `Authorization value in ${where}`).toBe(false);
  }
});
