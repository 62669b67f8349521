#!/usr/bin/env node
/** The `omnitensor` executable (package.json "bin"): runs cli/cli.ts and exits with its status. */
import { runCli } from './cli.js';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
const code = await runCli(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
// Dawn keeps the event loop alive while a device exists.
process.exit(code);
