/**
 * What every long-running or database-touching command needs first: the validated settings, the
 * rules and a logger. Problems of both files are reported together (check-config's format).
 */
import type { Config } from '../config/types.js';
import { formatProblem } from '../config/types.js';
import type { Rules } from '../rules/types.js';
import { loadSettings } from '../config/settings.js';
import { loadRules } from '../rules/load.js';
import { AppError } from '../errors.js';
import type { DestinationStream } from 'pino';
import { connectionSecrets, createLogger, type Logger } from '../log.js';
import type { CommandContext } from './command.js';

export const settingsOptions = {
  settings: { type: 'string', short: 's' },
  rules: { type: 'string', short: 'r' },
} as const;

export const settingsUsage = `  --settings, -s FILE  settings file (default: ./settings.ini when it exists; environment otherwise)
  --rules, -r FILE     rules file (default: ./rules.yaml)`;

/** Every secret of a configuration, in every form it may take in a message: for the logger. */
export function configSecrets(config: Config): string[] {
  return [
    ...[config.ckan.apiToken, config.zenodo.token, config.http.token].filter((s): s is string => typeof s === 'string' && s !== ''),
    ...connectionSecrets(config.database.url),
    ...connectionSecrets(config.mail.smtpUrl),
  ];
}

export interface Runtime {
  config: Config;
  rules: Rules;
  log: Logger;
}

export async function loadRuntime(ctx: CommandContext, opts: { needRules?: boolean; logLevel?: string } = {}): Promise<Runtime> {
  const settingsPath = typeof ctx.values.settings === 'string' ? ctx.values.settings : undefined;
  const rulesPath = typeof ctx.values.rules === 'string' ? ctx.values.rules : 'rules.yaml';
  const settings = await loadSettings({ path: settingsPath, env: ctx.io.env });
  const rules = opts.needRules === false ? { rules: { file: rulesPath, rules: [] }, problems: [] } : await loadRules(rulesPath);
  const problems = [...settings.problems, ...rules.problems];
  if (problems.length > 0 || !settings.config || !rules.rules) {
    throw new AppError('CONFIG_INVALID', `the configuration has ${problems.length} problem(s):\n${problems.map(formatProblem).join('\n')}`);
  }
  const config = settings.config;
  const secrets = configSecrets(config);
  // One-shot commands print their own account on stdout; their logs go to stderr, and only
  // warnings unless the operator asked for more (or for silence).
  const quiet = opts.logLevel !== undefined && !['debug', 'trace', 'silent', 'error', 'fatal'].includes(config.log.level);
  const log = opts.logLevel
    ? createLogger({ level: quiet ? opts.logLevel : config.log.level, secrets, pretty: false, destination: ctx.io.stderr as unknown as DestinationStream })
    : createLogger({ level: config.log.level, secrets });
  for (const warning of settings.warnings) log.warn({ setting: warning.path }, `settings: ${formatProblem(warning)}`);
  return { config, rules: rules.rules, log };
}
