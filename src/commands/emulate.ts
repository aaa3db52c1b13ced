import { AppError } from '../errors.js';
import { faultKinds, parseFaultSpec, type FaultSpec } from '../emulators/faults.js';
import { startZenodoEmulator, zenodoRoutes } from '../emulators/zenodo/server.js';
import { ckanRoutes, samplesDir, startCkanEmulator } from '../emulators/ckan/server.js';
import { startSmtpCapture, summarizeMessage } from '../emulators/smtp.js';
import type { RateLimit } from '../emulators/zenodo/rate-limit.js';
import { print, type Command, type CommandContext } from './command.js';

/** The parsed option values every emulator starter receives (all optional; each takes what it knows). */
export interface EmulateValues {
  port: number;
  host: string;
  tokens: string[];
  /** Raw `--faults` text; each starter parses it against its own route names with parseFaultSpec. */
  faults: string | undefined;
  faultSeed: number | undefined;
  rateLimit: string | undefined;
  seed: string | undefined;
  sandbox: boolean;
  /** Other string options, by name, for emulators added later. */
  raw: CommandContext['values'];
  /** The command's output, for emulators that report what they receive (smtp). */
  stdout?: NodeJS.WritableStream;
}

export interface RunningEmulator {
  url: string;
  close(): Promise<void>;
}

/**
 * One entry per `emulate <target>`. Adding an emulator (ckan, smtp) = one entry here plus, if it
 * needs a new option, one line in `options` below.
 */
export const emulateTargets: Record<string, { summary: string; start(values: EmulateValues): Promise<RunningEmulator> }> = {
  zenodo: {
    summary: 'the Zenodo deposit API (legacy shim on InvenioRDM)',
    async start(values) {
      const faults: FaultSpec[] = values.faults === undefined ? [] : parseFaultSpec(values.faults, zenodoRoutes);
      return startZenodoEmulator({
        port: values.port,
        host: values.host,
        tokens: values.tokens,
        sandbox: values.sandbox,
        faults,
        ...(values.faultSeed === undefined ? {} : { faultSeed: values.faultSeed }),
        ...(values.rateLimit === undefined ? {} : { rateLimit: parseRateLimit(values.rateLimit) }),
      });
    },
  },
  ckan: {
    summary: 'the CKAN Action API, downloads and DataStore dumps (--seed DIR: datasets; default the samples)',
    async start(values) {
      const faults: FaultSpec[] = values.faults === undefined ? [] : parseFaultSpec(values.faults, ckanRoutes);
      const tokens = Object.fromEntries(['ckan-test-token', ...values.tokens].map((t) => [t, { user: 'archiver', sysadmin: true }]));
      return startCkanEmulator({
        port: values.port,
        host: values.host,
        tokens,
        faults,
        seedDir: values.seed ?? samplesDir(),
        ...(values.faultSeed === undefined ? {} : { faultSeed: values.faultSeed }),
      });
    },
  },
  smtp: {
    summary: 'an SMTP server that captures mail and prints one line per message',
    async start(values) {
      const reject = values.raw.reject;
      const capture = await startSmtpCapture({
        port: values.port,
        host: values.host,
        rejectRecipients: Array.isArray(reject) ? reject.map(String) : [],
        failFirst: integerOption('fail-first', values.raw['fail-first']) ?? 0,
        onMessage: (message) => values.stdout && print(values.stdout, summarizeMessage(message)),
      });
      return { url: capture.url, close: () => capture.stop() };
    },
  },
};

/** `100/min`, `100/min,5000/h`, `5000/h`, or `off`. Missing windows keep Zenodo's defaults. */
export function parseRateLimit(text: string): RateLimit | false {
  if (text.trim() === 'off') return false;
  const limit: RateLimit = { perMinute: 100, perHour: 5000 };
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*\/\s*(min|minute|m|h|hour)\s*$/.exec(part);
    if (!m) throw new AppError('USAGE', `--rate-limit "${text}": expected N/min, N/h, "N/min,M/h" or off`);
    const n = Number(m[1]);
    if (m[2]!.startsWith('m')) limit.perMinute = n;
    else limit.perHour = n;
  }
  return limit;
}

function integerOption(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new AppError('USAGE', `--${name} must be a non-negative integer, got "${typeof value === 'string' ? value : JSON.stringify(value)}"`);
  }
  return n;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

export const emulateCommand: Command = {
  name: 'emulate',
  summary: `Run a local emulator (${Object.keys(emulateTargets).join(', ')}) for tests, benchmarks and demos`,
  usage: `
Usage: ckan-zenodo-sync emulate <target> [options]

Targets:
${Object.entries(emulateTargets).map(([name, t]) => `  ${name.padEnd(8)} ${t.summary}`).join('\n')}

Prints one line "<target> emulator listening on <url>" and serves until SIGTERM or SIGINT.

Options:
  --port N            port to listen on (default 0: any free port)
  --host H            address to bind (default 127.0.0.1)
  --token T           accepted API token; repeat for several users (default test-token)
  --rate-limit SPEC   N/min, N/h, "N/min,M/h" or off (default 100/min,5000/h per token)
  --faults SPEC       route:kind:probability[:count=N][:delayMs=N], comma-separated, e.g.
                      "upload:reset:0.2,publish:504-after-publish:1:count=1,any:503:0.1";
                      kinds: ${faultKinds.join(', ')}
  --fault-seed N      seed of the fault dice (default 1)
  --sandbox           sandbox DOIs (10.5072)
  --seed S            data seed (emulators that generate content)
  --reject ADDRESS    smtp: answer 550 to this recipient; repeatable
  --fail-first N      smtp: answer 421 to the first N connections
`,
  allowPositionals: true,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    token: { type: 'string', multiple: true },
    'rate-limit': { type: 'string' },
    faults: { type: 'string' },
    'fault-seed': { type: 'string' },
    sandbox: { type: 'boolean' },
    seed: { type: 'string' },
    reject: { type: 'string', multiple: true },
    'fail-first': { type: 'string' },
  },
  async run({ values, positionals, io }) {
    const [targetName, ...extra] = positionals;
    const target = targetName === undefined ? undefined : emulateTargets[targetName];
    if (!target || extra.length > 0) {
      throw new AppError('USAGE', `expected one target: ${Object.keys(emulateTargets).join(', ')}`);
    }
    const tokens = Array.isArray(values.token) ? values.token.map(String) : ['test-token'];
    const emulator = await target.start({
      port: integerOption('port', values.port) ?? 0,
      host: typeof values.host === 'string' ? values.host : '127.0.0.1',
      tokens,
      faults: typeof values.faults === 'string' ? values.faults : undefined,
      faultSeed: integerOption('fault-seed', values['fault-seed']),
      rateLimit: typeof values['rate-limit'] === 'string' ? values['rate-limit'] : undefined,
      seed: typeof values.seed === 'string' ? values.seed : undefined,
      sandbox: values.sandbox === true,
      raw: values,
      stdout: io.stdout,
    });
    print(io.stdout, `${targetName} emulator listening on ${emulator.url}`);
    await waitForSignal();
    await emulator.close();
    return 0;
  },
};
