// Docker HEALTHCHECK for the ckan-zenodo-sync image. Only `run` serves HTTP: for it, GET /healthz
// on the port of CKAN_ZENODO_HTTP_LISTEN (default 8080) must answer 200 within 4 s. Any other
// command (`worker`, `migrate`, …) has no HTTP server: healthy while its process is up. The command
// is read from /proc, because the same image (and HEALTHCHECK) serves every command.
// /healthz, not /readyz: it also fails when the scan scheduler has stopped firing, which a restart
// fixes (the database answering is all /readyz checks; that is for load balancers and monitoring).
import { readdirSync, readFileSync } from 'node:fs';

function daemonCommand() {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let args;
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    const at = args.findIndex((arg) => arg.endsWith('ckan-zenodo-sync.js'));
    if (at >= 0) return args[at + 1] ?? '';
  }
  return undefined;
}

const command = daemonCommand();
if (command === undefined) {
  process.stderr.write('no ckan-zenodo-sync process in this container\n');
  process.exit(1);
}
if (command !== 'run') process.exit(0);
const listen = process.env.CKAN_ZENODO_HTTP_LISTEN ?? '0.0.0.0:8080';
const port = listen.slice(listen.lastIndexOf(':') + 1) || '8080';
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) process.stderr.write(`/healthz answered ${response.status}\n`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`/healthz did not answer: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
