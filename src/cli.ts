import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { AppError, isAppError } from './errors.js';
import { print, type Command, type CommandIO } from './commands/command.js';
import { commands } from './commands/index.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function globalHelp(list: readonly Command[]): string {
  const width = Math.max(...list.map((c) => c.name.length));
  return [
    'ckan-zenodo-sync: keeps Zenodo archives of CKAN datasets up to date.',
    '',
    'Usage: ckan-zenodo-sync <command> [options]',
    '',
    'Commands:',
    ...list.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ckan-zenodo-sync <command> --help` for the options of one command.',
    'Options: --help, --version',
  ].join('\n');
}

function commandHelp(command: Command): string {
  return `ckan-zenodo-sync ${command.name}: ${command.summary}\n\n${command.usage.trim()}\n`;
}

/**
 * The CLI entry point. Returns the exit code instead of exiting so that tests can run commands
 * in-process; errors with a known code are printed as one clear line, never a stack trace.
 */
export async function main(argv: string[], io: CommandIO = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    print(name === undefined ? io.stderr : io.stdout, globalHelp(commands));
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    print(io.stdout, packageVersion());
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    print(io.stderr, `ckan-zenodo-sync: unknown command "${name}". Run \`ckan-zenodo-sync --help\` for the list.`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    print(io.stdout, commandHelp(command));
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: command.allowPositionals ?? false, strict: true });
  } catch (error) {
    print(io.stderr, `ckan-zenodo-sync ${command.name}: ${(error as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  try {
    return await command.run({ values: parsed.values, positionals: parsed.positionals, io });
  } catch (error) {
    if (isAppError(error)) {
      print(io.stderr, `ckan-zenodo-sync ${command.name}: ${error.message} [${error.code}]`);
      return error.code === 'USAGE' ? 2 : 1;
    }
    print(io.stderr, `ckan-zenodo-sync ${command.name}: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

export { AppError };
