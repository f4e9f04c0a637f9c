/**
 * The one place subcommands are registered. A new subcommand is one file in this folder exporting a
 * `CliCommand`, added to this list; usage and dispatch follow from it.
 */
import type { CliCommand } from '../command.js';
import { hubCommand } from './hub.js';
import { invokeCommand } from './invoke.js';
import { logsCommand } from './logs.js';
import { modelCommand } from './model.js';
import { resultsCommand } from './results.js';
import { statusCommand } from './status.js';
import { summaryCommand } from './summary.js';
import { twinCommand } from './twin.js';
import { upstreamCommand } from './upstream.js';
import { verifyCommand } from './verify.js';

export const COMMANDS: readonly CliCommand[] = [statusCommand, summaryCommand, upstreamCommand, resultsCommand, twinCommand, invokeCommand, logsCommand, hubCommand, modelCommand, verifyCommand];
