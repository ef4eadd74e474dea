// The devmap command line: one parser-building function, commands grouped.
import yargs, { type Argv } from 'yargs';

import { commands } from './commands/index.js';

/** Builds the parser (exported for tests and for --help checks). */
export function buildParser(argv: string[]): Argv {
  let y = yargs(argv)
    .scriptName('devmap')
    .usage('devmap <command> [options]\n\nMap device memory (ivshmem, framebuffers, DMA buffers) into Node with mmap(2), and boot QEMU guests that have those devices.')
    .strict()
    .demandCommand(1, 'Name a command; "devmap --help" lists them.')
    .recommendCommands()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .help()
    .alias('h', 'help')
    .version(false)
    .fail((msg, err, yy) => {
      if (err) throw err;
      console.error(yy.help() && `devmap: ${msg}\nRun "devmap --help" for usage.`);
      process.exit(2);
    });
  for (const c of commands) y = y.command(c);
  return y;
}

