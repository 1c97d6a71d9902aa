#!/usr/bin/env node
import { Command, Option } from 'commander';
import { SETTINGS } from '../config.js';
import { registerCommands } from './commands.js';
import { flagsToEnv, runCommand, VERSION } from './runtime.js';
import { serve } from './serve.js';

const program = new Command('tokend')
  .description('tokend: issues, renews, verifies and revokes tokens (OAuth 2.0 and five compatible token APIs)')
  .version(VERSION)
  .showHelpAfterError('(run with --help for usage)');

const serveCommand = program.command('serve').description('start the server (settings from TOKEND_* variables or these flags)');
for (const setting of SETTINGS) {
  serveCommand.addOption(new Option(`--${setting.flag} <value>`, `${setting.help} [${setting.env}]`));
}
serveCommand.action(async (options: Record<string, unknown>) => {
  await runCommand(() => serve(flagsToEnv(options)));
});

registerCommands(program);
await program.parseAsync(process.argv);
