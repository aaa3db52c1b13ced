import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, loadSettings } from '../../src/config/settings.js';
import { formatProblem } from '../../src/config/types.js';
import { isAppError } from '../../src/errors.js';

let root: string;
let n = 0;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'czs-settings-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh folder with settings.ini (and any other files), loaded as `--settings settings.ini`. */
async function load(text: string | undefined, env: NodeJS.ProcessEnv = {}, files: Record<string, string> = {}) {
  const dir = join(root, `case-${n++}`);
  await mkdir(dir);
  if (text !== undefined) await writeFile(join(dir, 'settings.ini'), text);
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  const result = await loadSettings({ path: text === undefined ? undefined : 'settings.ini', env, cwd: dir });
  return { ...result, dir, lines: result.problems.map(formatProblem) };
}

const URL_LINE = '[ckan]\nurl = https://ckan.example.org\n';

describe('valid settings', () => {
  it('fills every default and resolves relative paths against the settings folder', async () => {
    const { config, problems, dir } = await load(`${URL_LINE}\n[database]\ndata_dir = ./db\n[mail]\ntemplates = tpl\n`);
    expect(problems).toEqual([]);
    expect(config).toEqual({
      settingsPath: join(dir, 'settings.ini'),
      ckan: { url: 'https://ckan.example.org', apiToken: undefined, pageSize: 100, scanOverlapMs: 300_000, timeoutMs: 30_000 },
      zenodo: { url: 'https://zenodo.org', token: undefined, timeoutMs: 60_000 },
      database: { url: undefined, dataDir: join(dir, 'db'), embeddedPort: 5433 },
      schedule: { scan: '*/15 * * * *', reconcile: '17 3 * * *', timezone: 'UTC' },
      sync: { concurrency: 2, writeBack: false, spoolDir: join(dir, 'data/spool'), allowedHosts: [], linkExtra: 'zenodo_doi', metadataExtra: 'zenodo_metadata', maxAttempts: 8, drainTimeoutMs: 60_000, downloadTimeoutMs: 86_400_000, downloadMinRate: 10_000, downloadMinRateWindowMs: 60_000, spoolMaxBytes: 20 * 10 ** 9 },
      mail: { smtpUrl: undefined, from: 'ckan-zenodo-sync <noreply@localhost.localdomain>', admin: undefined, templatesDir: join(dir, 'tpl'), connections: 4, allowPlaintextAuth: false },
      http: { listen: '127.0.0.1:8080', token: undefined, publicStatus: false, trustProxy: false },
      retention: { days: 90 },
      log: { level: 'info' },
    });
  });

  it('reads every key in its type: ints, booleans, lists, URLs without trailing slash', async () => {
    const { config, problems } = await load(`[ckan]
url = https://example.org/data/
page_size = 1000
[sync]
concurrency = 64
write_back = yes
allowed_hosts = ckan.internal, 10.0.0.5:8443 ,[::1]:80
[http]
public_status = 1
listen = [::1]:0
trust_proxy = true
[schedule]
scan = 0 */2 * * * *
timezone = Europe/Zurich
[mail]
from = Data archive <archive@example.org>
smtp_url = "smtp://u:pa;ss@mail.example.org:587"
[log]
level = debug
`);
    expect(problems).toEqual([]);
    expect(config?.ckan.url).toBe('https://example.org/data');
    expect(config?.ckan.pageSize).toBe(1000);
    expect(config?.sync).toMatchObject({ concurrency: 64, writeBack: true, allowedHosts: ['ckan.internal', '10.0.0.5:8443', '[::1]:80'] });
    expect(config?.http).toMatchObject({ publicStatus: true, listen: '[::1]:0', trustProxy: true });
    expect(config?.schedule).toMatchObject({ scan: '0 */2 * * * *', timezone: 'Europe/Zurich' });
    expect(config?.mail.smtpUrl).toBe('smtp://u:pa;ss@mail.example.org:587');
    expect(config?.log.level).toBe('debug');
  });

  it.each([
    ['true', true], ['false', false], ['yes', true], ['no', false], ['1', true], ['0', false], ['YES', true],
  ])('boolean %s', async (text, value) => {
    const { config } = await load(`${URL_LINE}[sync]\nwrite_back = ${text}\n`);
    expect(config?.sync.writeBack).toBe(value);
  });

  it('reads download limits and the spool cap as sizes and rates', async () => {
    const { config } = await load(`${URL_LINE}[sync]\ndownload_timeout_seconds = 3600\ndownload_min_rate = 1.5 MB/s\ndownload_min_rate_seconds = 30\nspool_max = 2GiB\n`);
    expect(config?.sync).toMatchObject({ downloadTimeoutMs: 3_600_000, downloadMinRate: 1_500_000, downloadMinRateWindowMs: 30_000, spoolMaxBytes: 2 * 2 ** 30 });
  });

  it('a minimum rate of 0 switches the rate check off; the environment overrides the file', async () => {
    const { config } = await load(`${URL_LINE}[sync]\ndownload_min_rate = 0\nspool_max = 5GB\n`, { CKAN_ZENODO_SYNC_SPOOL_MAX: '100MB' });
    expect(config?.sync).toMatchObject({ downloadMinRate: 0, spoolMaxBytes: 100_000_000 });
  });

  it('[retention] days: 0 keeps everything; the environment overrides the file', async () => {
    expect((await load(`${URL_LINE}[retention]\ndays = 0\n`)).config?.retention).toEqual({ days: 0 });
    expect((await load(`${URL_LINE}[retention]\ndays = 0\n`, { CKAN_ZENODO_RETENTION_DAYS: '30' })).config?.retention).toEqual({ days: 30 });
  });

  it('treats an empty value as unset (the example file leaves tokens empty)', async () => {
    const { config } = await load(`${URL_LINE}api_token =\n[sync]\nconcurrency =\n`);
    expect(config?.ckan.apiToken).toBeUndefined();
    expect(config?.sync.concurrency).toBe(2);
  });
});

// [name, settings.ini text, exact `FILE:LINE path:` prefix, message pattern]
const fileErrors: [string, string, string, RegExp][] = [
  ['unknown section, with suggestion', `${URL_LINE}[zenodoo]\ntoken = x\n`, 'settings.ini:3 zenodoo:', /^unknown section \[zenodoo\] \(allowed: \[ckan\], .*\); did you mean "zenodo"\?$/],
  ['unknown key, with suggestion', `${URL_LINE}[sync]\n\nconcurency = 3\n`, 'settings.ini:5 sync.concurency:', /^unknown key \(allowed in \[sync\]: concurrency, .*\); did you mean "concurrency"\?$/],
  ['_file of a key that is no secret', `${URL_LINE}[sync]\nspool_dir_file = x\n`, 'settings.ini:4 sync.spool_dir_file:', /^unknown key/],
  ['key outside any section', `page_size = 5\n${URL_LINE}`, 'settings.ini:1 page_size:', /is outside any \[section\]/],
  ['nested section', `${URL_LINE}[ckan.extra]\n`, 'settings.ini:3 ckan.extra:', /sections cannot be nested/],
  ['line that is neither header nor key', `${URL_LINE}this is junk\n`, 'settings.ini:3 (syntax):', /^"this is junk" is neither a \[section\] header nor a key = value line$/],
  ['known key without =', `${URL_LINE}page_size\n`, 'settings.ini:3 ckan.page_size:', /has no value/],
  ['key set twice', `${URL_LINE}page_size = 10\npage_size = 20\n`, 'settings.ini:4 ckan.page_size:', /is set twice \(also on line 3\)/],
  ['list syntax', `${URL_LINE}[sync]\nallowed_hosts[] = a\n`, 'settings.ini:4 sync.allowed_hosts:', /must be a single value/],
  ['missing required url, section present', `[ckan]\npage_size = 10\n`, 'settings.ini:1 ckan.url:', /^is required \(the CKAN site URL.*CKAN_ZENODO_CKAN_URL\)$/],
  ['missing required url, section absent', `[sync]\nconcurrency = 2\n`, 'settings.ini ckan.url:', /^is required/],
  ['null is not a number', `${URL_LINE}page_size = null\n`, 'settings.ini:3 ckan.page_size:', /^"null" is not a whole number/],
  ['not a number', `${URL_LINE}page_size = ten\n`, 'settings.ini:3 ckan.page_size:', /^"ten" is not a whole number \(allowed: 1\.\.1000\)$/],
  ['not a whole number', `${URL_LINE}page_size = 1.5\n`, 'settings.ini:3 ckan.page_size:', /is not a whole number/],
  ['page_size too large', `${URL_LINE}page_size = 1001\n`, 'settings.ini:3 ckan.page_size:', /^1001 is out of range \(allowed: 1\.\.1000\)$/],
  ['page_size zero', `${URL_LINE}page_size = 0\n`, 'settings.ini:3 ckan.page_size:', /^0 is out of range \(allowed: 1\.\.1000\)$/],
  ['concurrency too large', `${URL_LINE}[sync]\nconcurrency = 65\n`, 'settings.ini:4 sync.concurrency:', /^65 is out of range \(allowed: 1\.\.64\)$/],
  ['bad boolean', `${URL_LINE}[sync]\nwrite_back = on\n`, 'settings.ini:4 sync.write_back:', /^"on" is not a boolean \(allowed: true, false, yes, no, 1, 0\)$/],
  ['ftp url', `[ckan]\nurl = ftp://ckan.example.org\n`, 'settings.ini:2 ckan.url:', /is not an http\(s\) URL/],
  ['not a url', `[ckan]\nurl = ckan.example.org\n`, 'settings.ini:2 ckan.url:', /^"ckan\.example\.org" is not an http\(s\) URL/],
  ['zenodo url', `${URL_LINE}[zenodo]\nurl = https://\n`, 'settings.ini:4 zenodo.url:', /is not an http\(s\) URL/],
  ['bad cron field', `${URL_LINE}[schedule]\nscan = 61 * * * *\n`, 'settings.ini:4 schedule.scan:', /^"61 \* \* \* \*" is not a valid cron expression .*minute.*\(allowed: five fields/],
  ['cron with four fields', `${URL_LINE}[schedule]\nreconcile = * * * *\n`, 'settings.ini:4 schedule.reconcile:', /is not a valid cron expression/],
  ['unknown time zone', `${URL_LINE}[schedule]\ntimezone = Mars/Olympus\n`, 'settings.ini:4 schedule.timezone:', /^"Mars\/Olympus" is not a known time zone/],
  ['listen without port', `${URL_LINE}[http]\nlisten = localhost\n`, 'settings.ini:4 http.listen:', /^"localhost" is not host:port/],
  ['listen port out of range', `${URL_LINE}[http]\nlisten = 127.0.0.1:70000\n`, 'settings.ini:4 http.listen:', /is not host:port/],
  ['bad allowed host', `${URL_LINE}[sync]\nallowed_hosts = ok.example, bad host\n`, 'settings.ini:4 sync.allowed_hosts:', /^"bad host" is not a host name/],
  ['spool_max not a size', `${URL_LINE}[sync]\nspool_max = lots\n`, 'settings.ini:4 sync.spool_max:', /^"lots" is not a size \(allowed: 1MB\.\.1000TB, e\.g\. 10kB, 500MB, 20GB; kB = 1000 bytes, KiB = 1024\)$/],
  ['spool_max too small', `${URL_LINE}[sync]\nspool_max = 10kB\n`, 'settings.ini:4 sync.spool_max:', /^"10kB" is out of range \(allowed: 1MB\.\./],
  ['min rate in another unit', `${URL_LINE}[sync]\ndownload_min_rate = 10 kB/min\n`, 'settings.ini:4 sync.download_min_rate:', /^"10 kB\/min" is not a size \(allowed: 0\/s\.\.1GB\/s, e\.g\. 10kB\/s/],
  ['download timeout too short', `${URL_LINE}[sync]\ndownload_timeout_seconds = 5\n`, 'settings.ini:4 sync.download_timeout_seconds:', /^5 is out of range \(allowed: 10\.\.2000000\)$/],
  ['unknown log level', `${URL_LINE}[log]\nlevel = loud\n`, 'settings.ini:4 log.level:', /^"loud" is not a log level \(allowed: fatal, error, warn, info, debug, trace, silent\)$/],
  ['no SMTP connection', `${URL_LINE}[mail]\nconnections = 0\n`, 'settings.ini:4 mail.connections:', /^0 is out of range \(allowed: 1\.\.32\)$/],
  ['bad admin address', `${URL_LINE}[mail]\nadmin = bob\n`, 'settings.ini:4 mail.admin:', /is not an e-mail address/],
  ['bad sender', `${URL_LINE}[mail]\nfrom = Archive <nope>\n`, 'settings.ini:4 mail.from:', /is not a sender address/],
  ['smtp url of another scheme', `${URL_LINE}[mail]\nsmtp_url = http://mail\n`, 'settings.ini:4 mail.smtp_url:', /is not an SMTP URL/],
  ['database url of another scheme', `${URL_LINE}[database]\nurl = mysql://u:hunter2@h/db\n`, 'settings.ini:4 database.url:', /is not a PostgreSQL URL/],
  ['value and _file both set', `${URL_LINE}[zenodo]\ntoken = abc\ntoken_file = t.txt\n`, 'settings.ini:5 zenodo.token_file:', /both token and token_file are set; keep one/],
  ['missing secret file', `${URL_LINE}[http]\ntoken_file = missing.txt\n`, 'settings.ini:4 http.token_file:', /^cannot read ".*missing\.txt": ENOENT/],
  ['negative retention', `${URL_LINE}[retention]\ndays = -1\n`, 'settings.ini:4 retention.days:', /-1/],
  ['retention in words', `${URL_LINE}[retention]\ndays = forever\n`, 'settings.ini:4 retention.days:', /forever/],
  ['secret file is a folder', `${URL_LINE}[http]\ntoken_file = .\n`, 'settings.ini:4 http.token_file:', /is not a regular file/],
];

describe('problems in settings.ini, each at its line', () => {
  it.each(fileErrors)('%s', async (_name, text, prefix, message) => {
    const { config, problems, lines } = await load(text);
    expect(config).toBeUndefined();
    const hit = problems.find((p) => formatProblem(p).startsWith(`${prefix} `));
    expect(hit, `expected "${prefix}" in:\n${lines.join('\n')}`).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('reports every problem at once, in line order', async () => {
    const { lines } = await load(`[ckan]\nurl = nope\npage_size = 0\n[sync]\nconcurrency = 0\nwrite_back = perhaps\n[bogus]\n`);
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['settings.ini:2', 'settings.ini:3', 'settings.ini:5', 'settings.ini:6', 'settings.ini:7']);
  });

  it('never repeats a secret in a message', async () => {
    const { lines } = await load(`${URL_LINE}[database]\nurl = mysql://u:hunter2@h/db\n[mail]\nsmtp_url = ftp://u:s3cret@mail\n`);
    expect(lines).toHaveLength(2);
    expect(lines.join('\n')).not.toMatch(/hunter2|s3cret/);
  });

  it('counts lines like an editor with CRLF line ends and blank lines', async () => {
    const { lines } = await load('[ckan]\r\n\r\n\r\nurl = https://x.example\r\n; comment\r\npage_size = -1\r\n');
    expect(lines).toEqual(['settings.ini:6 ckan.page_size: -1 is out of range (allowed: 1..1000)']);
  });

  it('reports an unreadable settings file as one problem', async () => {
    const result = await loadSettings({ path: join(root, 'does-not-exist.ini'), env: {} });
    expect(result.problems.map(formatProblem)).toEqual([expect.stringMatching(/^\S+does-not-exist\.ini \(file\): cannot be read: ENOENT/)]);
  });
});

describe('environment', () => {
  it('CKAN_ZENODO_<SECTION>_<KEY> wins over the file', async () => {
    const { config } = await load(`${URL_LINE}[sync]\nconcurrency = 2\n`, { CKAN_ZENODO_SYNC_CONCURRENCY: '4', CKAN_ZENODO_LOG_LEVEL: 'warn', CKAN_ZENODO_CKAN_URL: 'https://other.example' });
    expect(config?.sync.concurrency).toBe(4);
    expect(config?.log.level).toBe('warn');
    expect(config?.ckan.url).toBe('https://other.example');
  });

  it('DATABASE_URL, CKAN_API_TOKEN and ZENODO_TOKEN win over the file', async () => {
    const { config } = await load(`${URL_LINE}api_token = file-token\n[zenodo]\ntoken = file-z\n[database]\nurl = postgres://file/db\n`, {
      DATABASE_URL: 'postgres://u:p@env-host/db',
      CKAN_API_TOKEN: 'env-token',
      ZENODO_TOKEN: 'env-z',
    });
    expect(config?.database.url).toBe('postgres://u:p@env-host/db');
    expect(config?.ckan.apiToken).toBe('env-token');
    expect(config?.zenodo.token).toBe('env-z');
  });

  it('works without a settings file (relative paths against the working folder)', async () => {
    const { config, problems, dir } = await load(undefined, { CKAN_ZENODO_CKAN_URL: 'https://ckan.example.org', CKAN_ZENODO_DATABASE_DATA_DIR: 'pgdata' });
    expect(problems).toEqual([]);
    expect(config?.settingsPath).toBeUndefined();
    expect(config?.database.dataDir).toBe(join(dir, 'pgdata'));
  });

  it('without a file and without ckan url, says so', async () => {
    const { lines } = await load(undefined, {});
    expect(lines).toEqual([expect.stringMatching(/^env ckan\.url: is required/)]);
  });

  it.each<[string, NodeJS.ProcessEnv, string]>([
    ['bad value', { CKAN_ZENODO_SYNC_CONCURRENCY: 'x' }, 'env CKAN_ZENODO_SYNC_CONCURRENCY: "x" is not a whole number (allowed: 1..64)'],
    ['out of range', { CKAN_ZENODO_CKAN_PAGE_SIZE: '5000' }, 'env CKAN_ZENODO_CKAN_PAGE_SIZE: 5000 is out of range (allowed: 1..1000)'],
    ['bad url', { CKAN_ZENODO_ZENODO_URL: 'zenodo' }, 'env CKAN_ZENODO_ZENODO_URL: "zenodo" is not an http(s) URL without query or fragment (e.g. https://data.example.org)'],
    ['alias of another scheme', { DATABASE_URL: 'mysql://x' }, 'env DATABASE_URL: is not a PostgreSQL URL (allowed: postgres://user:password@host:5432/database, or empty for the embedded server; the value is not shown)'],
  ])('reports a %s under the variable name', async (_name, env, line) => {
    const { lines } = await load(URL_LINE, env);
    expect(lines).toEqual([line]);
  });

  it('reports an unknown key of a known section with a suggestion, and ignores other CKAN_ZENODO_ names', async () => {
    const { lines } = await load(URL_LINE, { CKAN_ZENODO_SYNC_CONCURENCY: '3', CKAN_ZENODO_DEMO_LOG: 'debug' });
    expect(lines).toEqual([expect.stringMatching(/^env CKAN_ZENODO_SYNC_CONCURENCY: unknown setting .*; did you mean "CKAN_ZENODO_SYNC_CONCURRENCY"\?$/)]);
  });

  it('ignores empty variables', async () => {
    const { config } = await load(`${URL_LINE}[sync]\nconcurrency = 3\n`, { CKAN_ZENODO_SYNC_CONCURRENCY: '', DATABASE_URL: '' });
    expect(config?.sync.concurrency).toBe(3);
    expect(config?.database.url).toBeUndefined();
  });
});

describe('secrets from files', () => {
  it('reads <key>_file relative to the settings folder, trimmed', async () => {
    const { config, problems } = await load(`${URL_LINE}api_token_file = secrets/ckan\n[mail]\nsmtp_url_file = smtp.txt\n`, {}, { 'smtp.txt': 'smtp://u:p@mail.example.org:587\n' });
    expect(problems.map(formatProblem)).toEqual([expect.stringMatching(/^settings\.ini:3 ckan\.api_token_file: cannot read/)]);
    expect(config).toBeUndefined();
    const ok = await load(`${URL_LINE}[mail]\nsmtp_url_file = smtp.txt\n[zenodo]\ntoken_file = z.txt\n`, {}, { 'smtp.txt': 'smtp://u:p@mail.example.org:587\n', 'z.txt': '  zen-token \n' });
    expect(ok.problems).toEqual([]);
    expect(ok.config?.mail.smtpUrl).toBe('smtp://u:p@mail.example.org:587');
    expect(ok.config?.zenodo.token).toBe('zen-token');
  });

  it('reads CKAN_ZENODO_<SECTION>_<KEY>_FILE, which wins over the file value', async () => {
    const secret = join(root, 'http-token');
    await writeFile(secret, 'from-file-8c2e4a6f0b1d3e5a7c9f1b3d\n');
    const { config } = await load(`${URL_LINE}[http]\ntoken = in-ini\n`, { CKAN_ZENODO_HTTP_TOKEN_FILE: secret });
    expect(config?.http.token).toBe('from-file-8c2e4a6f0b1d3e5a7c9f1b3d');
  });

  it('a value and a file in the environment is a problem', async () => {
    const secret = join(root, 'db-url');
    await writeFile(secret, 'postgres://a/b');
    const { lines } = await load(URL_LINE, { DATABASE_URL: 'postgres://c/d', CKAN_ZENODO_DATABASE_URL_FILE: secret });
    expect(lines).toEqual(['env CKAN_ZENODO_DATABASE_URL_FILE: DATABASE_URL and CKAN_ZENODO_DATABASE_URL_FILE are both set; keep one (the value, or the file holding it)']);
  });

  it('validates the content of a secret file, without showing it', async () => {
    const { lines } = await load(`${URL_LINE}[database]\nurl_file = db.txt\n`, {}, { 'db.txt': 'mysql://u:hunter2@h/db' });
    expect(lines).toEqual([expect.stringMatching(/^settings\.ini:4 database\.url_file: is not a PostgreSQL URL/)]);
    expect(lines.join('')).not.toContain('hunter2');
  });
});

describe('loadConfig', () => {
  it('throws CONFIG_INVALID listing every problem, one per line', async () => {
    const dir = join(root, 'load-config');
    await mkdir(dir);
    await writeFile(join(dir, 's.ini'), '[ckan]\nurl = x\n[sync]\nconcurrency = 0\n');
    const error = await loadConfig({ path: 's.ini', cwd: dir, env: {} }).catch((e: unknown) => e);
    expect(isAppError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message.split('\n')).toEqual([
      's.ini:2 ckan.url: "x" is not an http(s) URL without query or fragment (e.g. https://data.example.org)',
      's.ini:4 sync.concurrency: 0 is out of range (allowed: 1..64)',
    ]);
  });

  it('returns the config when valid', async () => {
    const dir = join(root, 'load-config-ok');
    await mkdir(dir);
    await writeFile(join(dir, 'settings.ini'), URL_LINE);
    await expect(loadConfig({ cwd: dir, env: {} })).resolves.toMatchObject({ settingsPath: join(dir, 'settings.ini'), ckan: { url: 'https://ckan.example.org' } });
  });
});
