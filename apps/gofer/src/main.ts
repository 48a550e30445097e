#!/usr/bin/env node
// The `gofer` executable: the CLI, and the service (`gofer service start`).
import { runCli } from './cli/program.js';

// A closed pipe (`gofer taskrun logs … | head`) is the reader saying "enough", not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2));
