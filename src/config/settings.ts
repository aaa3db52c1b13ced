/**
 * settings.ini + environment → typed Config (DESIGN.md "settings.ini"). Strict: unknown sections
 * and keys, wrong types, bad URLs, cron expressions, time zones and listen addresses are all
 * problems, and every problem is reported at once as `FILE:LINE section.key: what (allowed)`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import ini from 'ini';
import cron from 'node-cron';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { Config, ConfigProblem } from './types.js';
import { formatProblem } from './types.js';

type Kind = 'string' | 'url' | 'int' | 'bool' | 'cron' | 'timezone' | 'listen' | 'hosts' | 'level' | 'path' | 'email' | 'mailbox' | 'smtp';

interface KeySpec {
  kind: Kind;
  default?: string;
  min?: number;
  max?: number;
  secret?: boolean;
  required?: boolean;
  help?: string;
}

/** Every setting, its type and default. The ini file uses these names; env is CKAN_ZENODO_<SECTION>_<KEY>. */
export const SETTINGS: Record<string, Record<string, KeySpec>> = {
  ckan: {
    url: { kind: 'url', required: true, help: 'the CKAN site URL, e.g. https://data.example.org' },
    api_token: { kind: 'string', secret: true },
    page_size: { kind: 'int', default: '100', min: 1, max: 1000 },
    scan_overlap_seconds: { kind: 'int', default: '300', min: 0, max: 86_400 },
    timeout_seconds: { kind: 'int', default: '30', min: 1, max: 3600 },
  },
  zenodo: {
    url: { kind: 'url', default: 'https://zenodo.org' },
    token: { kind: 'string', secret: true },
    timeout_seconds: { kind: 'int', default: '60', min: 1, max: 3600 },
  },
  database: {
    url: { kind: 'string', secret: true },
    data_dir: { kind: 'path', default: './data/pg' },
    embedded_port: { kind: 'int', default: '5433', min: 1, max: 65_535 },
  },
  schedule: {
    scan: { kind: 'cron', default: '*/15 * * * *' },
    reconcile: { kind: 'cron', default: '17 3 * * *' },
    timezone: { kind: 'timezone', default: 'UTC' },
  },
  sync: {
    concurrency: { kind: 'int', default: '2', min: 1, max: 64 },
    write_back: { kind: 'bool', default: 'false' },
    spool_dir: { kind: 'path', default: './data/spool' },
    allowed_hosts: { kind: 'hosts', default: '' },
    link_extra: { kind: 'string', default: 'zenodo_doi' },
    max_attempts: { kind: 'int', default: '8', min: 1, max: 100 },
    drain_timeout_seconds: { kind: 'int', default: '60', min: 1, max: 86_400 },
  },
  mail: {
    smtp_url: { kind: 'smtp', secret: true },
    from: { kind: 'mailbox', default: 'ckan-zenodo-sync <noreply@localhost.localdomain>' },
    admin: { kind: 'email' },
    templates: { kind: 'path' },
  },
  http: {
    listen: { kind: 'listen', default: '127.0.0.1:8080' },
    token: { kind: 'string', secret: true },
    public_status: { kind: 'bool', default: 'false' },
  },
  log: {
    level: { kind: 'level', default: 'info' },
  },
};

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const ENV_PREFIX = 'CKAN_ZENODO_';
/** Common names operators already use; they win over the file, like the prefixed ones. */
const ALIASES: Record<string, [string, string]> = {
  DATABASE_URL: ['database', 'url'],
  CKAN_API_TOKEN: ['ckan', 'api_token'],
  ZENODO_TOKEN: ['zenodo', 'token'],
};

interface Located {
  value: string;
  file: string;
  line: number | undefined;
  /** `section.key` in a file, the variable name for the environment. */
  path: string;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

function suggest(word: string, options: readonly string[]): string {
  const best = options.map((o) => ({ o, d: distance(word.toLowerCase(), o) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? `; did you mean "${best.o}"?` : '';
}

/** Line numbers of `[section]` headers and `key = value` lines (the ini package keeps none). */
function lineIndex(text: string): { sections: Map<string, number>; keys: Map<string, number>; duplicates: { path: string; line: number }[]; junk: { line: number; text: string }[] } {
  const sections = new Map<string, number>();
  const keys = new Map<string, number>();
  const duplicates: { path: string; line: number }[] = [];
  const junk: { line: number; text: string }[] = [];
  let section = '';
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[([^\]]*)\]\s*(?:[;#].*)?$/.exec(line);
    if (header) {
      section = header[1]!.trim();
      if (!sections.has(section)) sections.set(section, i + 1);
      return;
    }
    const kv = /^([^=]+?)\s*=/.exec(line);
    if (!kv) {
      junk.push({ line: i + 1, text: line });
      return;
    }
    const path = `${section}.${kv[1]!.trim()}`;
    if (keys.has(path)) duplicates.push({ path, line: i + 1 });
    else keys.set(path, i + 1);
  });
  return { sections, keys, duplicates, junk };
}

const urlSchema = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
});

function validate(spec: KeySpec, value: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const v = value.trim();
  switch (spec.kind) {
    case 'string':
    case 'path':
      return { ok: true, value: v === '' ? undefined : v };
    case 'url':
      if (v === '' && !spec.required) return { ok: true, value: undefined };
      return urlSchema.safeParse(v).success ? { ok: true, value: v.replace(/\/+$/, '') } : { ok: false, message: `"${v}" is not an http(s) URL (e.g. https://data.example.org)` };
    case 'smtp':
      if (v === '') return { ok: true, value: undefined };
      try {
        const u = new URL(v);
        if (u.protocol === 'smtp:' || u.protocol === 'smtps:') return { ok: true, value: v };
      } catch {
        /* reported below */
      }
      return { ok: false, message: 'is not an SMTP URL (smtp://user:pass@host:587 or smtps://host:465)' };
    case 'int': {
      const n = z.coerce.number().int().safeParse(v === '' ? NaN : v);
      if (!n.success || !/^-?\d+$/.test(v)) return { ok: false, message: `"${v}" is not a whole number (allowed: ${spec.min ?? '…'}..${spec.max ?? '…'})` };
      if ((spec.min !== undefined && n.data < spec.min) || (spec.max !== undefined && n.data > spec.max)) return { ok: false, message: `${n.data} is out of range (allowed: ${spec.min}..${spec.max})` };
      return { ok: true, value: n.data };
    }
    case 'bool': {
      const b = v.toLowerCase();
      if (['true', 'yes', 'on', '1'].includes(b)) return { ok: true, value: true };
      if (['false', 'no', 'off', '0'].includes(b)) return { ok: true, value: false };
      return { ok: false, message: `"${v}" is not a boolean (allowed: true, false, yes, no, on, off, 1, 0)` };
    }
    case 'cron':
      return cron.validate(v) ? { ok: true, value: v } : { ok: false, message: `"${v}" is not a valid cron expression (five or six fields, e.g. "*/15 * * * *")` };
    case 'timezone':
      try {
        new Intl.DateTimeFormat('en', { timeZone: v });
        return { ok: true, value: v };
      } catch {
        return { ok: false, message: `"${v}" is not a known time zone (an IANA name such as UTC or Europe/Zurich)` };
      }
    case 'listen': {
      const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(v);
      const port = m ? Number(m[2]) : NaN;
      const host = m ? m[1]!.replace(/^\[|\]$/g, '') : '';
      if (!m || port > 65_535 || (isIP(host) === 0 && !/^[a-zA-Z0-9.-]+$/.test(host))) return { ok: false, message: `"${v}" is not host:port (e.g. 127.0.0.1:8080, [::1]:8080)` };
      return { ok: true, value: v };
    }
    case 'hosts': {
      const hosts = v.split(',').map((h) => h.trim()).filter(Boolean);
      const bad = hosts.find((h) => !/^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+|[0-9a-fA-F:]+)(:\d{1,5})?$/.test(h));
      return bad ? { ok: false, message: `"${bad}" is not a host name or address (comma-separated, optional :port)` } : { ok: true, value: hosts };
    }
    case 'level':
      return (LEVELS as readonly string[]).includes(v) ? { ok: true, value: v } : { ok: false, message: `"${v}" is not a log level (allowed: ${LEVELS.join(', ')})` };
    case 'email':
      if (v === '') return { ok: true, value: undefined };
      return z.email().safeParse(v).success ? { ok: true, value: v } : { ok: false, message: `"${v}" is not an e-mail address` };
    case 'mailbox': {
      const address = /<([^<>]+)>\s*$/.exec(v)?.[1] ?? v;
      return z.email().safeParse(address).success && !/[\r\n]/.test(v) ? { ok: true, value: v } : { ok: false, message: `"${v}" is not an address such as "Data archive <archive@example.org>"` };
    }
  }
}

export interface LoadSettingsOptions {
  /** settings.ini; undefined: ./settings.ini when it exists, else environment and defaults only. */
  path?: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export async function loadSettings(options: LoadSettingsOptions): Promise<{ config?: Config; problems: ConfigProblem[] }> {
  const cwd = options.cwd ?? process.cwd();
  const problems: ConfigProblem[] = [];
  let file: string | undefined;
  let text = '';
  if (options.path !== undefined) {
    file = resolve(cwd, options.path);
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push({ file: options.path, line: undefined, path: '(file)', message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (give an existing settings file, or none to use the environment)` });
      return { problems };
    }
  } else {
    try {
      text = await readFile(resolve(cwd, 'settings.ini'), 'utf8');
      file = resolve(cwd, 'settings.ini');
    } catch {
      file = undefined;
    }
  }
  const shown = options.path ?? (file ? 'settings.ini' : 'env');
  const baseDir = file ? dirname(file) : cwd;
  const values = new Map<string, Located>();

  if (file) {
    const index = lineIndex(text);
    for (const j of index.junk) problems.push({ file: shown, line: j.line, path: '(syntax)', message: `"${j.text.slice(0, 60)}" is neither a [section] nor a key = value line` });
    for (const d of index.duplicates) problems.push({ file: shown, line: d.line, path: d.path, message: `is set twice (first on line ${index.keys.get(d.path)}); keep one` });
    let parsed: Record<string, unknown>;
    try {
      parsed = ini.parse(text) as Record<string, unknown>;
    } catch (error) {
      problems.push({ file: shown, line: undefined, path: '(syntax)', message: (error as Error).message });
      parsed = {};
    }
    for (const [section, body] of Object.entries(parsed)) {
      const sectionSpec = SETTINGS[section];
      if (!sectionSpec || typeof body !== 'object' || body === null) {
        const line = index.sections.get(section) ?? index.keys.get(`.${section}`);
        const what = typeof body === 'object' ? `unknown section [${section}]` : `"${section}" is outside any [section]`;
        problems.push({ file: shown, line, path: section, message: `${what} (allowed: ${Object.keys(SETTINGS).map((s) => `[${s}]`).join(', ')})${suggest(section, Object.keys(SETTINGS))}` });
        continue;
      }
      for (const [key, raw] of Object.entries(body as Record<string, unknown>)) {
        const path = `${section}.${key}`;
        const line = index.keys.get(path);
        const fileKey = key.endsWith('_file') ? key.slice(0, -5) : undefined;
        if (fileKey && sectionSpec[fileKey]?.secret) {
          values.set(`${path}`, { value: String(raw), file: shown, line, path });
          continue;
        }
        if (!sectionSpec[key]) {
          problems.push({ file: shown, line, path, message: `unknown key (allowed in [${section}]: ${Object.keys(sectionSpec).join(', ')})${suggest(key, Object.keys(sectionSpec))}` });
          continue;
        }
        if (typeof raw === 'object') {
          problems.push({ file: shown, line, path, message: 'must be a single value' });
          continue;
        }
        values.set(path, { value: String(raw), file: shown, line, path });
      }
    }
  }

  // Environment overrides: CKAN_ZENODO_<SECTION>_<KEY>[_FILE], then the common aliases.
  for (const [name, raw] of Object.entries(options.env)) {
    if (raw === undefined || !name.startsWith(ENV_PREFIX)) continue;
    const rest = name.slice(ENV_PREFIX.length).toLowerCase();
    const section = Object.keys(SETTINGS).find((s) => rest.startsWith(`${s}_`));
    const key = section ? rest.slice(section.length + 1) : '';
    const spec = section ? SETTINGS[section]! : undefined;
    const base = key.endsWith('_file') ? key.slice(0, -5) : key;
    if (!section || !spec || !(spec[key] || (key.endsWith('_file') && spec[base]?.secret))) {
      problems.push({ file: 'env', line: undefined, path: name, message: `unknown setting (the form is ${ENV_PREFIX}<SECTION>_<KEY>, e.g. ${ENV_PREFIX}SYNC_CONCURRENCY)` });
      continue;
    }
    values.set(`${section}.${key}`, { value: raw, file: 'env', line: undefined, path: name });
    if (!key.endsWith('_file')) values.delete(`${section}.${key}_file`);
    else values.delete(`${section}.${base}`);
  }
  for (const [name, [section, key]] of Object.entries(ALIASES)) {
    const raw = options.env[name];
    if (raw === undefined || raw === '') continue;
    values.set(`${section}.${key}`, { value: raw, file: 'env', line: undefined, path: name });
    values.delete(`${section}.${key}_file`);
  }

  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, spec] of Object.entries(SETTINGS)) {
    out[section] = {};
    for (const [key, keySpec] of Object.entries(spec)) {
      const path = `${section}.${key}`;
      let located = values.get(path);
      const fromFile = values.get(`${path}_file`);
      if (fromFile && located && located.file === fromFile.file) {
        problems.push({ file: fromFile.file, line: fromFile.line, path: fromFile.path, message: `both ${key} and ${key}_file are set; keep one` });
      } else if (fromFile && !located) {
        const secretPath = resolve(baseDir, fromFile.value.trim());
        try {
          located = { ...fromFile, value: (await readFile(secretPath, 'utf8')).trim() };
        } catch (error) {
          problems.push({ file: fromFile.file, line: fromFile.line, path: fromFile.path, message: `cannot read ${secretPath}: ${(error as NodeJS.ErrnoException).code ?? 'error'} (a file holding only the secret)` });
          continue;
        }
      }
      if (!located || located.value.trim() === '') {
        if (keySpec.required) {
          problems.push({ file: shown, line: file ? lineIndex(text).sections.get(section) : undefined, path, message: `is required (${keySpec.help ?? 'no default'}; or set ${ENV_PREFIX}${section.toUpperCase()}_${key.toUpperCase()})` });
          continue;
        }
        if (keySpec.default === undefined) continue;
        located = { value: keySpec.default, file: shown, line: undefined, path };
      }
      const result = validate(keySpec, located.value);
      if (!result.ok) {
        const path2 = located.file === 'env' ? located.path : path;
        problems.push({ file: located.file, line: located.line, path: path2, message: keySpec.secret ? result.message.replace(/"[^"]*"/, 'the value') : result.message });
        continue;
      }
      out[section]![key] = keySpec.kind === 'path' && typeof result.value === 'string' ? resolve(baseDir, result.value) : result.value;
    }
  }
  if (problems.length > 0) return { problems: sortProblems(problems) };

  // Every key was validated above, so each value has the type its kind produces.
  const v = <T>(section: string, key: string): T => out[section]![key] as T;
  const config: Config = {
    settingsPath: file,
    ckan: { url: v('ckan', 'url'), apiToken: v('ckan', 'api_token'), pageSize: v('ckan', 'page_size'), scanOverlapMs: v<number>('ckan', 'scan_overlap_seconds') * 1000, timeoutMs: v<number>('ckan', 'timeout_seconds') * 1000 },
    zenodo: { url: v('zenodo', 'url'), token: v('zenodo', 'token'), timeoutMs: v<number>('zenodo', 'timeout_seconds') * 1000 },
    database: { url: v('database', 'url'), dataDir: v('database', 'data_dir'), embeddedPort: v('database', 'embedded_port') },
    schedule: { scan: v('schedule', 'scan'), reconcile: v('schedule', 'reconcile'), timezone: v('schedule', 'timezone') },
    sync: {
      concurrency: v('sync', 'concurrency'),
      writeBack: v('sync', 'write_back'),
      spoolDir: v('sync', 'spool_dir'),
      allowedHosts: v<string[] | undefined>('sync', 'allowed_hosts') ?? [],
      linkExtra: v('sync', 'link_extra'),
      maxAttempts: v('sync', 'max_attempts'),
      drainTimeoutMs: v<number>('sync', 'drain_timeout_seconds') * 1000,
    },
    mail: { smtpUrl: v('mail', 'smtp_url'), from: v('mail', 'from'), admin: v('mail', 'admin'), templatesDir: v('mail', 'templates') },
    http: { listen: v('http', 'listen'), token: v('http', 'token'), publicStatus: v('http', 'public_status') },
    log: { level: v('log', 'level') },
  };
  return { config, problems };
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => (a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) : a.file === 'env' ? 1 : b.file === 'env' ? -1 : 0));
}

/** loadSettings, throwing CONFIG_INVALID with every problem (one per line) when there are any. */
export async function loadConfig(options: LoadSettingsOptions): Promise<Config> {
  const { config, problems } = await loadSettings(options);
  if (!config || problems.length > 0) throw new AppError('CONFIG_INVALID', `the settings have ${problems.length} problem(s):\n${problems.map(formatProblem).join('\n')}`);
  return config;
}
