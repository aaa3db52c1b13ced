/**
 * Filename sanitising on hostile names (a 60,000-character resource name once blocked the event
 * loop for 36 s). Times sanitiseFilename / assignFilenames on 100,000-character names of several
 * shapes and 10,000 resources sharing one name. Target: every line well under 100 ms.
 *
 * Run (compiles only this file's import graph):
 *
 *   npx tsc bench/filenames.ts --outDir .tmp/bench-build --rootDir . --module nodenext \
 *     --moduleResolution nodenext --target es2022 --lib es2023 --types node --strict --skipLibCheck \
 *   && node .tmp/bench-build/bench/filenames.js
 */
import { performance } from 'node:perf_hooks';
import { assignFilenames, sanitiseFilename } from '../src/sync/filenames.js';

const N = 100_000;
const shapes: [string, string][] = [
  ['letters + .csv', `${'x'.repeat(N)}.csv`],
  ['all dots then x', `${'.'.repeat(N)}x`],
  ['dot-underscore runs', `${'._'.repeat(N / 2)}x`],
  ['all slashes', '/'.repeat(N)],
  ['alternating combining marks', `a${'\u0301\u0316'.repeat(N / 2)}.csv`],
  ['emoji', '😀'.repeat(N / 2)],
  ['right-to-left', `${'מידע'.repeat(N / 4)}.csv`],
  ['huge extension', `a.${'x'.repeat(N)}`],
];
for (const [shape, raw] of shapes) {
  const start = performance.now();
  const name = sanitiseFilename(raw);
  console.log(`${shape.padEnd(30)} ${(performance.now() - start).toFixed(2).padStart(8)} ms  → ${Buffer.byteLength(name)} bytes`);
}
const resources = Array.from({ length: 10_000 }, (_, i) => ({ id: `r${i}`, name: 'x'.repeat(300) + '.csv' }));
const start = performance.now();
assignFilenames(resources, new Map());
console.log(`${'10,000 equal 300-char names'.padEnd(30)} ${(performance.now() - start).toFixed(2).padStart(8)} ms`);
