// Shared memory and child processes for the channel tests: a memfd mapped
// (twice: two views of the same pages) and a Node child that inherits it as fd 3.
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';

import { type Mapping } from '../../lib/mapping.js';
import { mapFd } from '../../lib/map.js';
import { memfd } from '../../lib/ipc/memfd.js';

const open: { fd: number; maps: Mapping[] }[] = [];

/** Unmaps and closes everything shared() made (call from afterEach). */
export function closeShared(): void {
  for (const o of open.splice(0)) {
    for (const m of o.maps) m.unmap();
    closeSync(o.fd);
  }
}

/** A memfd of `size` bytes mapped twice. */
export function shared(size: number): { fd: number; a: Mapping; b: Mapping } {
  const fd = memfd('channel-test', size);
  const a = mapFd(fd, 'memfd');
  const b = mapFd(fd, 'memfd');
  open.push({ fd, maps: [a, b] });
  return { fd, a, b };
}

export interface Child {
  /** Its exit code and signal, and all it printed. */
  done: Promise<{ code: number | null; signal: string | null; out: string }>;
  /** What it printed so far. */
  out: () => string;
  kill: () => void;
}

/** Runs `script` with `args`, `fd` as its fd 3; SIGKILLed after `limitMs`. */
export function child(script: string, fd: number, args: (string | number)[], limitMs = 50_000): Child {
  const c = spawn(process.execPath, [script, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit', fd] });
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const limit = setTimeout(() => c.kill('SIGKILL'), limitMs);
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) =>
    c.on('exit', (code, signal) => (clearTimeout(limit), resolve({ code, signal, out })))
  );
  return { done, out: () => out, kill: () => c.kill('SIGKILL') };
}
