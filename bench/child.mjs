// A bench helper process (see bench/run.mjs): runs ONE emulator or one syncing daemon, so that its
// CPU and memory are not the measured process's. Driven over IPC:
//   parent → {id, call, args}   child → {id, result} | {id, error}
// Roles (argv[2]): `ckan` (CKAN emulator), `zenodo` (Zenodo emulator), `daemon` (startDaemon in
// worker mode, no queue workers: `sync` runs syncNow and reports its time and peak RSS).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = (p) => import(join(import.meta.dirname, '..', 'dist', p));
const role = process.argv[2];
const options = JSON.parse(process.argv[3] ?? '{}');
const { silentLogger } = await dist('log.js');
const log = silentLogger();

/** Peak RSS of this process so far (kernel's high-water mark), in bytes. */
function peakRss() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

let handlers;
if (role === 'ckan') {
  const { startCkanEmulator, generateDatasets } = await dist('emulators/ckan/server.js');
  const datasets = options.generate ? generateDatasets(options.generate) : (options.datasets ?? []);
  const emu = await startCkanEmulator({ datasets });
  handlers = {
    url: () => emu.url,
    addDatasets: (list) => list.map((d) => emu.addDataset(d).id),
    updateDataset: (id, patch) => void emu.updateDataset(id, patch),
    /** Touches `n` datasets chosen evenly among those `filter` matches (an edit of the notes). */
    touch: (n, tagged) => {
      const all = emu.datasets().filter((d) => !tagged || (d.tags ?? []).some((t) => t.name === 'zenodo'));
      const step = Math.max(1, Math.floor(all.length / n));
      let count = 0;
      for (let i = 0; i < all.length && count < n; i += step, count++) emu.updateDataset(all[i].id, { notes: `${all[i].notes ?? ''}\n\nEdited ${Date.now()}.` });
      return count;
    },
    close: () => emu.close(),
  };
} else if (role === 'zenodo') {
  const { startZenodoEmulator } = await dist('emulators/zenodo/server.js');
  const emu = await startZenodoEmulator({ rateLimit: false, ...options });
  handlers = {
    url: () => emu.url,
    counts: () => {
      const s = emu.state;
      return { depositions: s.depositions.length, records: s.records.length, bytes: s.records.reduce((n, r) => n + r.files.reduce((m, f) => m + f.size, 0), 0) };
    },
    close: () => emu.close(),
  };
} else if (role === 'daemon') {
  const { startDaemon } = await dist('daemon.js');
  const daemon = await startDaemon({ config: options.config, rules: options.rules, log, mode: 'worker', workers: false, schedule: false, http: false });
  handlers = {
    async sync(name) {
      let peak = process.memoryUsage().rss;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
      const t0 = performance.now();
      try {
        const outcome = await daemon.syncNow(name);
        return { seconds: (performance.now() - t0) / 1000, state: outcome.state, kind: outcome.kind, peakRss: Math.max(peak, process.memoryUsage().rss), hwm: peakRss() };
      } finally {
        clearInterval(timer);
      }
    },
    close: () => daemon.stop(),
  };
} else {
  throw new Error(`unknown role ${role}`);
}

process.on('message', async ({ id, call, args }) => {
  try {
    const result = await handlers[call](...(args ?? []));
    process.send({ id, result: result ?? null });
    if (call === 'close') process.disconnect();
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) });
  }
});
// The bench was interrupted (Ctrl-C, kill): do not outlive it.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
