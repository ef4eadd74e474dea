// A C floor of the host benchmarks (bench/c/NAME.c), compiled with -O2 into
// a temporary folder: run(...args) runs it and parses the JSON line it
// prints; remove() deletes the folder.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function cProgram(name) {
  const dir = mkdtempSync(join(tmpdir(), `devmap-bench-${name}-`));
  const exe = join(dir, name);
  execFileSync('cc', ['-O2', '-o', exe, new URL(`./c/${name}.c`, import.meta.url).pathname]);
  return {
    run: (...args) => JSON.parse(execFileSync(exe, args.map(String), { encoding: 'utf8' })),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
