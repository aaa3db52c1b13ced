import type { ParseArgsConfig } from 'node:util';

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface CommandContext {
  /** Values parsed by node:util parseArgs from the command's `options`. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  io: CommandIO;
}

/**
 * One CLI subcommand. Each lives in its own module under src/commands and is registered in
 * src/cli.ts; `usage` and `summary` make up its `--help`.
 */
export interface Command {
  name: string;
  summary: string;
  /** Full help text after the summary line: arguments, options, examples. */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  allowPositionals?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

export function print(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}
