/**
 * Real `ckan-zenodo-sync run` processes for the daemon tests: a settings.ini and rules.yaml
 * written into a temp directory, the compiled CLI (`bin/` → `dist/`) in a child process, its pino
 * JSON lines collected, and polling helpers so tests wait on conditions instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stack } from '../support/stack.js';

export const root = join(import.meta.dirname, '..', '..');
export const HTTP_TOKEN = 'http-test-token-5c1e9a7f3b2d8e40';

export function requireDist(): void {
  if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does it) before this test');
}

/** Writes settings.ini + rules.yaml into `dir` for the stack; returns their paths. */
export async function writeSettings(
  stack: Pick<Stack, 'ckan' | 'zenodo' | 'smtp'> & { db: { url: string } },
  dir: string,
  extra: { scan?: string; drainTimeoutSeconds?: number; concurrency?: number; pageSize?: number } = {},
): Promise<{ settings: string; rules: string }> {
  await mkdir(dir, { recursive: true });
  const settings = join(dir, 'settings.ini');
  const rules = join(dir, 'rules.yaml');
  await writeFile(
    settings,
    [
      '[ckan]',
      `url = ${stack.ckan.url}`,
      'api_token = ckan-test-token',
      ...(extra.pageSize === undefined ? [] : [`page_size = ${extra.pageSize}`]),
      '[zenodo]',
      `url = ${stack.zenodo.url}`,
      'token = test-token',
      '[database]',
      `url = ${stack.db.url}`,
      '[schedule]',
      // Six fields: node-cron's seconds field, so scans fire every two seconds.
      `scan = ${extra.scan ?? '*/2 * * * * *'}`,
      '[sync]',
      'allowed_hosts = 127.0.0.1',
      `spool_dir = ${join(dir, 'spool')}`,
      `concurrency = ${extra.concurrency ?? 2}`,
      `drain_timeout_seconds = ${extra.drainTimeoutSeconds ?? 5}`,
      '[mail]',
      `smtp_url = ${stack.smtp.url}`,
      'admin = admin@portal.test',
      '[http]',
      'listen = 127.0.0.1:0',
      `token = ${HTTP_TOKEN}`,
      '[log]',
      'level = info',
      '',
    ].join('\n'),
    // It holds tokens: owner-only, as an operator's should be (else the daemon warns).
    { mode: 0o600 },
  );
  await writeFile(rules, 'rules:\n  - name: tagged\n    when: { tags: [zenodo] }\n');
  return { settings, rules };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface RunProcess {
  child: ChildProcess;
  lines: LogLine[];
  stderr(): string;
  /** Resolves with the exit code (or signal name) when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The URL of its HTTP server, once it logged that it started. */
  httpUrl(): Promise<string>;
}

export function startRun(files: { settings: string; rules: string }): RunProcess {
  const child = spawn(process.execPath, [join(root, 'bin', 'ckan-zenodo-sync.js'), 'run', '--settings', files.settings, '--rules', files.rules], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  });
  const lines: LogLine[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      try {
        lines.push(JSON.parse(part) as LogLine);
      } catch {
        lines.push({ level: 0, msg: part });
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const proc: RunProcess = {
    child,
    lines,
    stderr: () => stderr,
    exited,
    async httpUrl() {
      const line = await waitFor(
        () => lines.find((l) => l.msg === 'ckan-zenodo-sync started'),
        { what: 'the daemon to start', timeoutMs: 30_000, process: proc },
      );
      return String(line.http);
    },
  };
  return proc;
}

/**
 * Polls `check` until it returns something other than undefined/false; fails with `what` and the
 * process's last output after `timeoutMs`. The poll interval is not a synchronisation point:
 * only the condition is.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  opts: { what: string; timeoutMs?: number; process?: RunProcess },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const tail = opts.process ? `\nlast log lines:\n${opts.process.lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${opts.process.stderr().slice(-2000)}` : '';
      throw new Error(`timed out waiting for ${opts.what}${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sends SIGTERM and resolves with how the process exited (SIGKILL after `killAfterMs`). */
export async function terminate(proc: RunProcess, killAfterMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), killAfterMs);
  try {
    return await proc.exited;
  } finally {
    clearTimeout(timer);
  }
}
