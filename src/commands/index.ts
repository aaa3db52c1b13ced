import type { Command } from './command.js';
import { emulateCommand } from './emulate.js';

/** Every CLI subcommand, in the order `--help` lists them. Add new commands here. */
export const commands: readonly Command[] = [emulateCommand];
