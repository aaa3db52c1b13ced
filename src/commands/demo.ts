import { fileURLToPath } from 'node:url';
import { runDemo } from '../demo/demo.js';
import { loadRules } from '../rules/load.js';
import { formatProblem } from '../config/types.js';
import { AppError } from '../errors.js';
import { createLogger } from '../log.js';
import { print, type Command } from './command.js';

const DEFAULT_RULES = fileURLToPath(new URL('../../rules.yaml', import.meta.url));

export const demoCommand: Command = {
  name: 'demo',
  summary: 'watch the daemon archive sample datasets, with local emulators (no setup needed)',
  usage: `Usage: ckan-zenodo-sync demo [--serve] [--rules FILE]

Starts an embedded PostgreSQL, a CKAN emulator with sample datasets, a Zenodo emulator and an SMTP
capture server, then runs the real daemon: a first scan archives the tagged datasets, an edit in
CKAN produces a new version and a metadata-only update, and the mails are shown. Nothing leaves
this machine and nothing is kept afterwards.

Options:
  --serve          keep serving the status page on http://127.0.0.1:8080 until Ctrl-C
  --rules FILE     rules to use (default: the example rules.yaml)`,
  options: { serve: { type: 'boolean' }, rules: { type: 'string' } },
  async run(ctx) {
    const rulesPath = typeof ctx.values.rules === 'string' ? ctx.values.rules : DEFAULT_RULES;
    const loaded = await loadRules(rulesPath);
    if (!loaded.rules) throw new AppError('RULES_INVALID', loaded.problems.map(formatProblem).join('\n'));
    const log = createLogger({ level: ctx.io.env.CKAN_ZENODO_DEMO_LOG ?? 'error', pretty: false, destination: process.stderr });
    const serve = ctx.values.serve === true;
    const untilStopped = serve ? new Promise<void>((resolve) => process.once('SIGINT', () => resolve())) : undefined;
    await runDemo({ rules: loaded.rules, log, out: (line) => print(ctx.io.stdout, line), serve, untilStopped });
    return 0;
  },
};
