/**
 * settings.ini + environment → typed Config (DESIGN.md "settings.ini"). Strict: unknown sections
 * and keys, wrong types, bad URLs, cron expressions, time zones and listen addresses are all
 * problems, and every problem is reported at once as `FILE:LINE section.key: what (allowed)`.
 *
 * Precedence per key: environment (`CKAN_ZENODO_<SECTION>_<KEY>[_FILE]`, then `DATABASE_URL`,
 * `CKAN_API_TOKEN`, `ZENODO_TOKEN`) over the file over the default. An empty value counts as
 * unset, so `api_token =` in the example file means "no token" and falls through to the default.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import ini from 'ini';
import { validateDetailed } from 'node-cron';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { parseSize } from '../rules/schema.js';
import { oneLine, quote as show, word } from './problem-text.js';
import { suggest } from './suggest.js';
import type { Config, ConfigProblem } from './types.js';
import { formatProblem } from './types.js';

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '' && u.search === '' && u.hash === '';
  } catch {
    return false;
  }
}

function hasProtocol(value: string, protocols: readonly string[]): boolean {
  try {
    return protocols.includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const BOOLEANS: Record<string, boolean> = { true: true, yes: true, '1': true, false: false, no: false, '0': false };
const HOST = /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*\.?)$/;

function validHost(host: string): boolean {
  if (host.startsWith('[')) return isIP(host.slice(1, -1)) === 6 && host.endsWith(']');
  return HOST.test(host) || isIP(host) !== 0;
}

function formatSize(bytes: number): string {
  if (bytes === 0) return '0';
  for (const [unit, factor] of [['TB', 1e12], ['GB', 1e9], ['MB', 1e6], ['kB', 1e3]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

/** Shortest `[http] token` accepted: 32 hex characters are 128 bits. */
export const MIN_HTTP_TOKEN_LENGTH = 32;
const MIN_HTTP_TOKEN_DISTINCT = 10;
const MIN_HTTP_TOKEN_BITS = 128;

/**
 * Why a `[http] token` is too easy to guess, or undefined. The token is the one secret between
 * the network and "queue a sync"; the rate limit slows guessing, it does not make a short token
 * safe. Entropy is estimated as length × log2(size of the character classes used), which is what
 * a random token of that shape would hold: 32 hex characters pass (165 bits), 32 digits do not
 * (106), nor does anything made of a few distinct characters repeated.
 */
export function tokenWeakness(token: string): string | undefined {
  const chars = Array.from(token);
  if (chars.length < MIN_HTTP_TOKEN_LENGTH) return `it has ${chars.length} characters (at least ${MIN_HTTP_TOKEN_LENGTH} needed)`;
  const distinct = new Set(chars).size;
  if (distinct < MIN_HTTP_TOKEN_DISTINCT) return `it uses only ${distinct} different characters (at least ${MIN_HTTP_TOKEN_DISTINCT} needed)`;
  let alphabet = 0;
  if (/[a-z]/.test(token)) alphabet += 26;
  if (/[A-Z]/.test(token)) alphabet += 26;
  if (/[0-9]/.test(token)) alphabet += 10;
  if (/[^a-zA-Z0-9]/.test(token)) alphabet += 32;
  const bits = chars.length * Math.log2(alphabet);
  if (bits < MIN_HTTP_TOKEN_BITS) return `at most ${Math.floor(bits)} bits of entropy for its length and characters (at least ${MIN_HTTP_TOKEN_BITS} needed: make it longer or mix letters and digits)`;
  return undefined;
}

// Each kind parses the trimmed, non-empty text of one setting. Messages say what is wrong and
// what is allowed; the caller adds `FILE:LINE section.key:`.
const kinds = {
  text: () => z.string(),
  path: () => z.string(),
  httpUrl: () =>
    z
      .string()
      .refine(isHttpUrl, { error: (i) => `${show(i.input)} is not an http(s) URL without query or fragment (e.g. https://data.example.org)` })
      .transform((v) => v.replace(/\/+$/, '')),
  int: (min: number, max: number) =>
    z
      .string()
      .regex(/^[+-]?\d{1,15}$/, { error: (i) => `${show(i.input)} is not a whole number (allowed: ${min}..${max})` })
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, { error: (i) => `${String(i.input)} is out of range (allowed: ${min}..${max})` })
          .max(max, { error: (i) => `${String(i.input)} is out of range (allowed: ${min}..${max})` }),
      ),
  /** Bytes, written as in rules.yaml (`20GB`, `500 MB`, `1.5GiB`, `1024`); `per` adds a unit such as "/s". */
  size: (min: number, max: number, per = '') =>
    z.string().transform((v, ctx) => {
      const bare = per !== '' && v.toLowerCase().endsWith(per) ? v.slice(0, -per.length) : v;
      const bytes = parseSize(bare);
      const allowed = `allowed: ${formatSize(min)}${per}..${formatSize(max)}${per}, e.g. 10kB${per}, 500MB${per}, 20GB${per}; kB = 1000 bytes, KiB = 1024`;
      if (bytes === undefined) ctx.addIssue({ code: 'custom', message: `${show(v)} is not a size (${allowed})` });
      else if (bytes < min || bytes > max) ctx.addIssue({ code: 'custom', message: `${show(v)} is out of range (${allowed})` });
      return bytes ?? z.NEVER;
    }),
  bool: () =>
    z
      .string()
      .refine((v) => Object.hasOwn(BOOLEANS, v.toLowerCase()), { error: (i) => `${show(i.input)} is not a boolean (allowed: true, false, yes, no, 1, 0)` })
      .transform((v) => BOOLEANS[v.toLowerCase()] === true),
  cron: () =>
    z.string().check((ctx) => {
      const result = validateDetailed(ctx.value);
      if (result.valid) return;
      const why = result.errors[0]?.message;
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `${show(ctx.value)} is not a valid cron expression${why ? ` (${why})` : ''} (allowed: five fields "minute hour day month weekday" or six with seconds first, e.g. "*/15 * * * *")` });
    }),
  timezone: () =>
    z.string().transform((v, ctx) => {
      try {
        return new Intl.DateTimeFormat('en', { timeZone: v }).resolvedOptions().timeZone;
      } catch {
        ctx.addIssue({ code: 'custom', message: `${show(v)} is not a known time zone (allowed: an IANA name such as UTC or Europe/Zurich)` });
        return z.NEVER;
      }
    }),
  listen: () =>
    z.string().refine(
      (v) => {
        const m = /^(.+):(\d{1,5})$/.exec(v);
        return m !== null && Number(m[2]) <= 65_535 && validHost(m[1]!);
      },
      { error: (i) => `${show(i.input)} is not host:port (allowed: e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080; port 0..65535)` },
    ),
  hosts: () =>
    z.string().transform((v, ctx) => {
      const hosts = v.split(',').map((h) => h.trim()).filter(Boolean);
      const bad = hosts.find((h) => {
        const m = /^(.+?)(?::(\d{1,5}))?$/.exec(h);
        return !m || !validHost(m[1]!) || Number(m[2] ?? 0) > 65_535;
      });
      if (bad !== undefined) ctx.addIssue({ code: 'custom', message: `${show(bad)} is not a host name or address (allowed: comma-separated hosts with an optional :port, e.g. ckan.internal, 10.0.0.5:8443)` });
      return hosts;
    }),
  level: () => z.enum(LEVELS, { error: (i) => `${show(i.input)} is not a log level (allowed: ${LEVELS.join(', ')})` }),
  email: () => z.email({ error: (i) => `${show(i.input)} is not an e-mail address (e.g. archive@example.org)` }),
  mailbox: () =>
    z.string().refine((v) => z.email().safeParse(/<([^<>]+)>$/.exec(v)?.[1] ?? v).success, {
      error: (i) => `${show(i.input)} is not a sender address (allowed: archive@example.org or "Data archive <archive@example.org>")`,
    }),
  // Secrets: messages never repeat the value.
  smtpUrl: () => z.string().refine((v) => hasProtocol(v, ['smtp:', 'smtps:']), { error: 'is not an SMTP URL (allowed: smtp://user:password@host:587 or smtps://host:465; the value is not shown)' }),
  httpToken: () =>
    z.string().check((ctx) => {
      const weakness = tokenWeakness(ctx.value);
      if (weakness !== undefined) {
        ctx.issues.push({ code: 'custom', input: ctx.value, message: `is too weak: ${weakness} (the value is not shown). Anyone who reaches [http] listen can guess such a token; generate one with \`openssl rand -hex 32\`` });
      }
    }),
  postgresUrl: () =>
    z.string().refine((v) => hasProtocol(v, ['postgres:', 'postgresql:']), { error: 'is not a PostgreSQL URL (allowed: postgres://user:password@host:5432/database, or empty for the embedded server; the value is not shown)' }),
};

interface KeySpec<T> {
  schema: z.ZodType<T, string>;
  default?: string;
  secret?: boolean;
  /** Set for required keys: what to put there. */
  required?: string;
  /** Resolved against the settings file's folder. */
  path?: boolean;
}

function key<T>(schema: z.ZodType<T, string>, opts: Omit<KeySpec<T>, 'schema'> = {}): KeySpec<T> {
  return { schema, ...opts };
}

/** Every setting: its section, key, type and default. Env names are CKAN_ZENODO_<SECTION>_<KEY>. */
export const SETTINGS = {
  ckan: {
    url: key(kinds.httpUrl(), { required: 'the CKAN site URL, e.g. https://data.example.org' }),
    api_token: key(kinds.text(), { secret: true }),
    page_size: key(kinds.int(1, 1000), { default: '100' }),
    scan_overlap_seconds: key(kinds.int(0, 86_400), { default: '300' }),
    timeout_seconds: key(kinds.int(1, 3600), { default: '30' }),
  },
  zenodo: {
    url: key(kinds.httpUrl(), { default: 'https://zenodo.org' }),
    token: key(kinds.text(), { secret: true }),
    timeout_seconds: key(kinds.int(1, 3600), { default: '60' }),
  },
  database: {
    url: key(kinds.postgresUrl(), { secret: true }),
    data_dir: key(kinds.path(), { default: './data/pg', path: true }),
    embedded_port: key(kinds.int(1, 65_535), { default: '5433' }),
  },
  schedule: {
    scan: key(kinds.cron(), { default: '*/15 * * * *' }),
    reconcile: key(kinds.cron(), { default: '17 3 * * *' }),
    timezone: key(kinds.timezone(), { default: 'UTC' }),
  },
  sync: {
    concurrency: key(kinds.int(1, 64), { default: '2' }),
    write_back: key(kinds.bool(), { default: 'false' }),
    spool_dir: key(kinds.path(), { default: './data/spool', path: true }),
    allowed_hosts: key(kinds.hosts(), { default: '' }),
    link_extra: key(kinds.text(), { default: 'zenodo_doi' }),
    metadata_extra: key(kinds.text(), { default: 'zenodo_metadata' }),
    max_attempts: key(kinds.int(1, 100), { default: '8' }),
    drain_timeout_seconds: key(kinds.int(1, 86_400), { default: '60' }),
    // One download may take this long at most (24 h: Zenodo's largest file, 50 GB, at ~600 kB/s).
    download_timeout_seconds: key(kinds.int(10, 2_000_000), { default: '86400' }),
    // A download slower than this on average over download_min_rate_seconds is cut; 0 disables.
    download_min_rate: key(kinds.size(0, 10 ** 9, '/s'), { default: '10kB/s' }),
    download_min_rate_seconds: key(kinds.int(1, 3600), { default: '60' }),
    // Spool files of this process's concurrent downloads together; the disk also holds the
    // embedded database.
    spool_max: key(kinds.size(10 ** 6, 10 ** 15), { default: '20GB' }),
  },
  mail: {
    smtp_url: key(kinds.smtpUrl(), { secret: true }),
    from: key(kinds.mailbox(), { default: 'ckan-zenodo-sync <noreply@localhost.localdomain>' }),
    admin: key(kinds.email()),
    templates: key(kinds.path(), { path: true }),
    connections: key(kinds.int(1, 32), { default: '4' }),
    allow_plaintext_auth: key(kinds.bool(), { default: 'false' }),
  },
  http: {
    listen: key(kinds.listen(), { default: '127.0.0.1:8080' }),
    token: key(kinds.httpToken(), { secret: true }),
    public_status: key(kinds.bool(), { default: 'false' }),
    trust_proxy: key(kinds.bool(), { default: 'false' }),
  },
  retention: {
    // 0 keeps everything; the upper bound (100 years) only catches typos.
    days: key(kinds.int(0, 36_500), { default: '90' }),
  },
  log: {
    level: key(kinds.level(), { default: 'info' }),
  },
} as const;

type Settings = typeof SETTINGS;
type SectionName = keyof Settings;
/** The parsed value of every setting (undefined: unset and without default). */
type Values = { [S in SectionName]: { [K in keyof Settings[S]]: Settings[S][K] extends KeySpec<infer T> ? T | undefined : never } };

const SECTIONS = Object.keys(SETTINGS) as SectionName[];
const specsOf = (section: string): Record<string, KeySpec<unknown>> | undefined =>
  Object.hasOwn(SETTINGS, section) ? SETTINGS[section as SectionName] : undefined;

const ENV_PREFIX = 'CKAN_ZENODO_';
/** Names operators already use elsewhere; they override the file like the prefixed ones. */
const ALIASES: Record<string, [SectionName, string]> = {
  DATABASE_URL: ['database', 'url'],
  CKAN_API_TOKEN: ['ckan', 'api_token'],
  ZENODO_TOKEN: ['zenodo', 'token'],
};
/** A secret file is a token or a URL; anything bigger is the wrong file (or /dev/zero). */
const MAX_SECRET_FILE_BYTES = 64 * 1024;

interface IniLine {
  line: number;
  /** null: before the first [section]. */
  section: string | null;
  key: string;
  /** No `=` on the line: ini reads it as `key = true`, which is never what was meant. */
  bare: boolean;
  text: string;
}

interface IniIndex {
  headers: { name: string; line: number }[];
  entries: IniLine[];
  junk: { line: number; text: string }[];
}

/**
 * Line numbers for the `ini` package's result, which keeps none. The grammar is the package's own
 * (ini 5 `decode`: its section and key regexes, comments, and `unsafe` for names) so that every
 * section and key found here is named exactly as in `ini.parse`'s output.
 */
function indexLines(text: string): IniIndex {
  const index: IniIndex = { headers: [], entries: [], junk: [] };
  let section: string | null = null;
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    if (raw === '' || /^\s*[;#]/.test(raw) || /^\s*$/.test(raw)) return;
    const m = /^\[([^\]]*)\]\s*$|^([^=]+)(=(.*))?$/i.exec(raw);
    if (!m) {
      index.junk.push({ line: i + 1, text: raw.trim() });
      return;
    }
    if (m[1] !== undefined) {
      section = ini.unsafe(m[1]);
      index.headers.push({ name: section, line: i + 1 });
      return;
    }
    const keyRaw = ini.unsafe(m[2] ?? '');
    const key = keyRaw.length > 2 && keyRaw.endsWith('[]') ? keyRaw.slice(0, -2) : keyRaw;
    index.entries.push({ line: i + 1, section, key, bare: m[3] === undefined, text: raw.trim() });
  });
  return index;
}

/** Where a value came from: a line of the settings file, or an environment variable. */
interface Source {
  value: string;
  file: string;
  line: number | undefined;
  /** `section.key` for the file, the variable's name for the environment. */
  path: string;
}

/** The value and the `_file` of one setting at one level (file or environment). */
interface Level {
  value?: Source;
  file?: Source;
}

export interface LoadSettingsOptions {
  /** settings.ini; undefined: ./settings.ini when it exists, else environment and defaults only. */
  path?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** For a relative `path` and the default ./settings.ini; default process.cwd(). */
  cwd?: string;
}

async function readSettingsFile(options: LoadSettingsOptions, cwd: string): Promise<{ file?: string; shown: string; text?: string; mode?: number; problem?: ConfigProblem }> {
  if (options.path !== undefined) {
    const file = resolve(cwd, options.path);
    try {
      return { file, shown: options.path, text: await readFile(file, 'utf8'), mode: exposedMode(await stat(file)) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      return { shown: options.path, problem: { file: options.path, line: undefined, path: '(file)', message: `cannot be read: ${code} (give an existing settings file, or none to use the environment only)` } };
    }
  }
  const file = resolve(cwd, 'settings.ini');
  try {
    return { file, shown: 'settings.ini', text: await readFile(file, 'utf8'), mode: exposedMode(await stat(file)) };
  } catch {
    return { shown: 'env' };
  }
}

/** Collects the file's values per `section.key`, reporting every structural problem. */
function fromFile(text: string, shown: string, problems: ConfigProblem[]): Map<string, Level> {
  const levels = new Map<string, Level>();
  const index = indexLines(text);
  const problem = (line: number | undefined, path: string, message: string): void => {
    problems.push({ file: shown, line, path, message });
  };
  const allowedSections = `allowed: ${SECTIONS.map((s) => `[${s}]`).join(', ')}`;

  for (const j of index.junk) problem(j.line, '(syntax)', `${show(j.text)} is neither a [section] header nor a key = value line`);
  const reported = new Set<string>();
  for (const h of index.headers) {
    if (specsOf(h.name) || reported.has(h.name)) continue;
    reported.add(h.name);
    const parent = h.name.split('.')[0] ?? '';
    if (h.name.includes('.') && specsOf(parent)) problem(h.line, word(h.name), `[${h.name}] is not a section: sections cannot be nested (${allowedSections})`);
    else problem(h.line, word(h.name), `unknown section [${h.name}] (${allowedSections})${suggest(h.name, SECTIONS)}`);
  }

  let parsed: Record<string, unknown>;
  try {
    parsed = ini.parse(text);
  } catch (error) {
    problem(undefined, '(syntax)', `cannot be parsed: ${String((error as Error).message).split('\n')[0]}`);
    return levels;
  }

  const seen = new Map<string, number>();
  for (const entry of index.entries) {
    if (entry.section === null) {
      problem(entry.line, word(entry.key), `is outside any [section] (put it under one of ${SECTIONS.map((s) => `[${s}]`).join(', ')})`);
      continue;
    }
    const specs = specsOf(entry.section);
    if (!specs) continue; // the section is reported
    const path = `${entry.section}.${entry.key}`;
    const shownPath = `${entry.section}.${word(entry.key)}`;
    const base = entry.key.endsWith('_file') ? entry.key.slice(0, -'_file'.length) : undefined;
    const isFileKey = base !== undefined && specs[base]?.secret === true;
    if (entry.bare) {
      if (specs[entry.key] || isFileKey) problem(entry.line, shownPath, `has no value (write ${entry.key} = <value>, or remove the line)`);
      else problem(entry.line, '(syntax)', `${show(entry.text)} is neither a [section] header nor a key = value line`);
      seen.set(path, entry.line);
      continue;
    }
    if (!specs[entry.key] && !isFileKey) {
      const secrets = Object.keys(specs).filter((k) => specs[k]?.secret).map((k) => `${k}_file`);
      problem(entry.line, shownPath, `unknown key (allowed in [${entry.section}]: ${Object.keys(specs).join(', ')}${secrets.length ? `, ${secrets.join(', ')}` : ''})${suggest(entry.key, [...Object.keys(specs), ...secrets])}`);
      continue;
    }
    const first = seen.get(path);
    if (first !== undefined) {
      problem(entry.line, shownPath, `is set twice (also on line ${first}); keep one`);
      continue;
    }
    seen.set(path, entry.line);
    const raw = (parsed[entry.section] as Record<string, unknown> | undefined)?.[entry.key];
    if (raw !== null && typeof raw === 'object') {
      problem(entry.line, shownPath, 'must be a single value (write key = value once; lists are comma-separated)');
      continue;
    }
    // ini turns the words true, false and null into JSON values: give back what was written.
    const value = raw === null ? 'null' : typeof raw === 'string' || typeof raw === 'boolean' ? String(raw) : undefined;
    if (value === undefined) continue;
    const name = isFileKey ? base : entry.key;
    const level = levels.get(`${entry.section}.${name}`) ?? {};
    level[isFileKey ? 'file' : 'value'] = { value, file: shown, line: entry.line, path: shownPath };
    levels.set(`${entry.section}.${name}`, level);
  }

  // Nested sections ([ckan.extra]) end up as objects inside the parent section: reported above.
  return levels;
}

/** Collects the environment's values per `section.key`; empty variables count as unset. */
function fromEnv(env: NodeJS.ProcessEnv, problems: ConfigProblem[]): Map<string, Level> {
  const levels = new Map<string, Level>();
  const set = (id: string, which: 'value' | 'file', source: Source): void => {
    const level = levels.get(id) ?? {};
    level[which] = source;
    levels.set(id, level);
  };
  for (const [name, [section, k]] of Object.entries(ALIASES)) {
    const raw = env[name];
    if (raw !== undefined && raw.trim() !== '') set(`${section}.${k}`, 'value', { value: raw, file: 'env', line: undefined, path: name });
  }
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '' || !name.startsWith(ENV_PREFIX)) continue;
    const rest = name.slice(ENV_PREFIX.length).toLowerCase();
    const section = SECTIONS.find((s) => rest.startsWith(`${s}_`));
    // Variables for other sections (e.g. CKAN_ZENODO_DEMO_LOG) belong to other tools or commands.
    if (section === undefined) continue;
    const specs = specsOf(section)!;
    const k = rest.slice(section.length + 1);
    const base = k.endsWith('_file') ? k.slice(0, -'_file'.length) : undefined;
    if (specs[k]) {
      // The prefixed name is the more specific one: it wins over an alias.
      set(`${section}.${k}`, 'value', { value: raw, file: 'env', line: undefined, path: name });
    } else if (base !== undefined && specs[base]?.secret) {
      set(`${section}.${base}`, 'file', { value: raw, file: 'env', line: undefined, path: name });
    } else {
      const names = Object.keys(specs).map((key) => `${ENV_PREFIX}${section.toUpperCase()}_${key.toUpperCase()}`);
      problems.push({ file: 'env', line: undefined, path: word(name), message: `unknown setting (allowed for [${section}]: ${names.join(', ')}, and <NAME>_FILE for secrets)${suggest(name, names)}` });
    }
  }
  return levels;
}

async function readSecretFile(source: Source, baseDir: string): Promise<{ value?: string; problem?: string; mode?: number; path: string }> {
  const path = resolve(baseDir, source.value.trim());
  try {
    const info = await stat(path);
    if (!info.isFile()) return { path, problem: `${show(path)} is not a regular file (allowed: a file holding only the secret)` };
    if (info.size > MAX_SECRET_FILE_BYTES) return { path, problem: `${show(path)} is ${info.size} bytes (allowed: a file holding only the secret, at most ${MAX_SECRET_FILE_BYTES} bytes)` };
    return { path, mode: exposedMode(info), value: (await readFile(path, 'utf8')).trim() };
  } catch (error) {
    return { path, problem: `cannot read ${show(path)}: ${(error as NodeJS.ErrnoException).code ?? 'error'} (allowed: a readable file holding only the secret)` };
  }
}

/**
 * A file holding a secret that other local users can read: a warning, not an error, because a
 * container or a single-user host may not care, but on a shared machine it hands out the tokens.
 * Windows has no such mode bits.
 */
/**
 * The permission bits that expose a file to someone other than the service. A file owned by
 * another user (root) whose group is the service's own group, readable by that group, is the
 * documented install (`root:ckan-zenodo-sync 0640`, deploy/README.md): the group read bit then
 * reaches only the service, and "chmod 600" would lock it out. Group write still counts.
 */
function exposedMode(info: { mode: number; uid: number; gid: number }): number {
  let mode = info.mode & 0o777;
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid && info.gid === process.getgid?.()) mode &= ~0o040;
  return mode;
}

function openToOthers(mode: number | undefined): boolean {
  return process.platform !== 'win32' && mode !== undefined && (mode & 0o077) !== 0;
}

function permissionWarning(path: string, mode: number, what: string): string {
  return `${show(path)} ${what} and is readable by ${(mode & 0o070) !== 0 ? 'its group' : ''}${(mode & 0o070) !== 0 && (mode & 0o007) !== 0 ? ' and ' : ''}${(mode & 0o007) !== 0 ? 'other users' : ''} (mode ${(mode & 0o777).toString(8).padStart(3, '0')}); run chmod 600 ${show(path)}`;
}

function byPosition(a: ConfigProblem, b: ConfigProblem): number {
  // File problems by line first, then the environment's, by variable name.
  if (a.file !== b.file) return a.file === 'env' ? 1 : b.file === 'env' ? -1 : 0;
  return (a.line ?? 0) - (b.line ?? 0) || (a.file === 'env' ? a.path.localeCompare(b.path) : 0);
}

export interface LoadedSettings {
  /** Set only when `problems` is empty. */
  config?: Config;
  problems: ConfigProblem[];
  /** Worth fixing, but nothing stops: secrets in files other local users can read. */
  warnings: ConfigProblem[];
}

/**
 * Reads settings.ini (when given or present) and the environment into a Config. Never throws:
 * `config` is set only when `problems` is empty.
 */
export async function loadSettings(options: LoadSettingsOptions): Promise<LoadedSettings> {
  const cwd = options.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  let inlineSecret = false;
  const read = await readSettingsFile(options, cwd);
  if (read.problem) return { problems: [{ ...read.problem, message: oneLine(read.problem.message) }], warnings };
  const baseDir = read.file ? dirname(read.file) : cwd;
  const fileLevels = read.text !== undefined ? fromFile(read.text, read.shown, problems) : new Map<string, Level>();
  const envLevels = fromEnv(options.env, problems);
  const headers = read.text !== undefined ? indexLines(read.text).headers : [];

  const values: Record<string, Record<string, unknown>> = {};
  for (const section of SECTIONS) {
    const specs = specsOf(section)!;
    const out: Record<string, unknown> = {};
    values[section] = out;
    for (const [k, spec] of Object.entries(specs)) {
      const id = `${section}.${k}`;
      const env = envLevels.get(id);
      const level = env?.value || env?.file ? env : fileLevels.get(id);
      let source = level?.value;
      if (level?.value && level.file) {
        const where = level.file.file === 'env' ? `${level.value.path} and ${level.file.path} are both set` : `both ${k} and ${k}_file are set`;
        problems.push({ file: level.file.file, line: level.file.line, path: level.file.path, message: `${where}; keep one (the value, or the file holding it)` });
        continue;
      }
      if (level?.file) {
        const secret = await readSecretFile(level.file, baseDir);
        if (secret.problem !== undefined) {
          problems.push({ file: level.file.file, line: level.file.line, path: level.file.path, message: secret.problem });
          continue;
        }
        if (openToOthers(secret.mode)) {
          warnings.push({ file: level.file.file, line: level.file.line, path: level.file.path, message: permissionWarning(secret.path, secret.mode!, 'holds a secret') });
        }
        source = { ...level.file, value: secret.value ?? '' };
      }
      let text = source?.value.trim() ?? '';
      if (spec.secret === true && text !== '' && level?.value?.file !== undefined && level.value.file !== 'env' && !level.file) inlineSecret = true;
      if (text === '') {
        if (spec.required !== undefined) {
          const header = headers.find((h) => h.name === section);
          problems.push({
            file: read.shown,
            line: header?.line,
            path: id,
            message: `is required (${spec.required}; or set ${ENV_PREFIX}${section.toUpperCase()}_${k.toUpperCase()})`,
          });
          continue;
        }
        if (spec.default === undefined) continue;
        text = spec.default;
        source = undefined;
      }
      const result = spec.schema.safeParse(text);
      if (!result.success) {
        const where = source ?? { file: read.shown, line: undefined, path: id };
        const message = result.error.issues[0]?.message ?? 'is invalid';
        problems.push({ file: where.file, line: where.line, path: where.path, message });
        continue;
      }
      out[k] = spec.path === true && typeof result.data === 'string' ? resolve(baseDir, result.data) : result.data;
    }
  }
  // A settings file without secrets in it may be world-readable like any other configuration.
  if (read.file !== undefined && inlineSecret && openToOthers(read.mode)) {
    warnings.unshift({ file: read.shown, line: undefined, path: '(file)', message: permissionWarning(read.file, read.mode!, 'holds secrets') });
  }
  const finalWarnings = warnings.map((w) => ({ ...w, message: oneLine(w.message) })).sort(byPosition);
  if (problems.length > 0) return { problems: problems.map((p) => ({ ...p, message: oneLine(p.message) })).sort(byPosition), warnings: finalWarnings };

  // Every key was parsed by its schema above (or is undefined: unset without default).
  const v = values as unknown as Values;
  const config: Config = {
    settingsPath: read.file,
    ckan: {
      url: v.ckan.url!,
      apiToken: v.ckan.api_token,
      pageSize: v.ckan.page_size!,
      scanOverlapMs: v.ckan.scan_overlap_seconds! * 1000,
      timeoutMs: v.ckan.timeout_seconds! * 1000,
    },
    zenodo: { url: v.zenodo.url!, token: v.zenodo.token, timeoutMs: v.zenodo.timeout_seconds! * 1000 },
    database: { url: v.database.url, dataDir: v.database.data_dir!, embeddedPort: v.database.embedded_port! },
    schedule: { scan: v.schedule.scan!, reconcile: v.schedule.reconcile!, timezone: v.schedule.timezone! },
    sync: {
      concurrency: v.sync.concurrency!,
      writeBack: v.sync.write_back!,
      spoolDir: v.sync.spool_dir!,
      allowedHosts: v.sync.allowed_hosts ?? [],
      linkExtra: v.sync.link_extra!,
      metadataExtra: v.sync.metadata_extra!,
      maxAttempts: v.sync.max_attempts!,
      drainTimeoutMs: v.sync.drain_timeout_seconds! * 1000,
      downloadTimeoutMs: v.sync.download_timeout_seconds! * 1000,
      downloadMinRate: v.sync.download_min_rate!,
      downloadMinRateWindowMs: v.sync.download_min_rate_seconds! * 1000,
      spoolMaxBytes: v.sync.spool_max!,
    },
    mail: {
      smtpUrl: v.mail.smtp_url,
      from: v.mail.from!,
      admin: v.mail.admin,
      templatesDir: v.mail.templates,
      connections: v.mail.connections!,
      allowPlaintextAuth: v.mail.allow_plaintext_auth!,
    },
    http: { listen: v.http.listen!, token: v.http.token, publicStatus: v.http.public_status!, trustProxy: v.http.trust_proxy! },
    retention: { days: v.retention.days! },
    log: { level: v.log.level! },
  };
  return { config, problems: [], warnings: finalWarnings };
}

/** loadSettings, throwing CONFIG_INVALID whose message is every problem, one per line, when there are any. */
export async function loadConfig(options: LoadSettingsOptions): Promise<Config> {
  const { config, problems } = await loadSettings(options);
  if (!config || problems.length > 0) {
    throw new AppError('CONFIG_INVALID', problems.map(formatProblem).join('\n'), {
      details: { problems: problems.map(formatProblem) },
    });
  }
  return config;
}
