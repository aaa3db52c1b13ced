/** `ckan-zenodo-sync emulate zenodo` as an operator or a benchmark script starts it. */
import { beforeAll, expect, test } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { request } from 'undici';

const root = new URL('../../../', import.meta.url).pathname;
const bin = `${root}bin/ckan-zenodo-sync.js`;

beforeAll(() => {
  // Other modules may be mid-edit and fail to typecheck; tsc still emits, which is all we need.
  spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
}, 180_000);

test('emulate zenodo prints one line with its URL, serves, and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [bin, 'emulate', 'zenodo', '--port', '0', '--token', 'cli-token', '--rate-limit', '50/min'], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  expect(line, stderr).toMatch(/^zenodo emulator listening on http:\/\/127\.0\.0\.1:\d+$/);
  const url = line.slice('zenodo emulator listening on '.length);
  const res = await request(`${url}/api/deposit/depositions`, { headers: { authorization: 'Bearer cli-token' } });
  expect(res.statusCode).toBe(200);
  expect(res.headers['x-ratelimit-limit']).toBe('50');
  expect(await res.body.json()).toEqual([]);
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  expect(code).toBe(0);
});

test('emulate zenodo refuses a bad --faults spec with a usage error', () => {
  const result = spawnSync(process.execPath, [bin, 'emulate', 'zenodo', '--faults', 'upload:explode:1'], { cwd: root, encoding: 'utf8' });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain('unknown fault kind "explode"');
  expect(result.stdout).toBe('');
});
