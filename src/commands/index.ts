import type { Command } from './command.js';
import { checkConfigCommand } from './check-config.js';
import { demoCommand } from './demo.js';
import { emulateCommand } from './emulate.js';
import { linkCommand } from './link.js';
import { migrateCommand } from './migrate.js';
import { runCommand, workerCommand } from './run.js';
import { scanCommand } from './scan.js';
import { retryCommand, syncCommand } from './sync.js';
import { statusCommand } from './status.js';

/** Every CLI subcommand, in the order `--help` lists them. Add new commands here. */
export const commands: readonly Command[] = [
  runCommand,
  workerCommand,
  scanCommand,
  syncCommand,
  retryCommand,
  linkCommand,
  statusCommand,
  checkConfigCommand,
  migrateCommand,
  demoCommand,
  emulateCommand,
];
