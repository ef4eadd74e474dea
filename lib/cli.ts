#!/usr/bin/env node
// Entry point of the `devmap` command.
import { hideBin } from 'yargs/helpers';

import { buildParser } from './parser.js';

// Errors a user can act on (they carry a code) print as one line; anything
// else, a bug, prints with its stack.
try {
  await buildParser(hideBin(process.argv)).parseAsync();
} catch (err) {
  const e = err as Error & { code?: string };
  const known = typeof e.code === 'string' || e instanceof RangeError || e instanceof TypeError;
  console.error(`devmap: ${known ? e.message : (e.stack ?? String(e))}`);
  process.exitCode = 1;
}
