// Temp files for host tests: real files in the OS temp dir and in /dev/shm.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory, removed after the file's tests. `base` '/dev/shm' for tmpfs. */
export function tempDir(base = tmpdir()): string {
  const d = mkdtempSync(join(base, 'devmap-test-'));
  dirs.push(d);
  return d;
}

/** A file holding `bytes` (or `size` zero bytes) in a fresh temp dir. */
export function tempFile(content: Uint8Array | number, base?: string): string {
  const p = join(tempDir(base), 'data.bin');
  writeFileSync(p, typeof content === 'number' ? new Uint8Array(content) : content);
  return p;
}

/** How many VMAs of this process map `path`. */
export function countMaps(path: string, text: string): number {
  return text.split('\n').filter((l) => l.endsWith(' ' + path)).length;
}
