// The ivshmem doorbell server of a guest test run (machine.ivshmemServer):
// `devmap ivshmem-server` as a child process, not in the harness's own
// event loop, so a spec's host hook can kill it mid-run like a crash
// (SIGKILL) and the guests see exactly what a dead server looks like. It
// runs with --json: the harness waits for its {"event":"ready"} line on
// stdout, never for words meant for people. Its socket and /dev/shm file
// are removed on every path, a crash included.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { devmapError } from '../../errors.js';
import type { IvshmemServerReady } from '../../ivshmem/server.js';
import { packageRoot } from '../../paths.js';
import { haveCommand } from '../image/cache.js';

export interface ServerProcess {
  socket: string;
  /** The shared memory's file (/dev/shm), which the host may map. */
  shmPath: string;
  size: number;
  vectors: number;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (the server removes its files), then removes whatever is left. Idempotent. */
  stop(): Promise<void>;
  /** Synchronous last resort for signal handlers: SIGKILL and remove the files. */
  abandon(): void;
  /** The server's messages so far, its stderr (one line per join/leave). */
  log(): string;
}

/** The ready line of `devmap ivshmem-server --json` (lib/ivshmem/server.ts IvshmemServerReady); undefined for any other line. */
export function parseReady(line: string): IvshmemServerReady | undefined {
  let v: Partial<IvshmemServerReady> | null;
  try {
    v = JSON.parse(line) as Partial<IvshmemServerReady> | null;
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || v.event !== 'ready') return undefined;
  const ok = typeof v.socket === 'string' && (typeof v.shm === 'string' || v.shm === null) && typeof v.size === 'number' && typeof v.vectors === 'number';
  return ok ? (v as IvshmemServerReady) : undefined;
}

/** Internal seams for tests: the command line (the server's is appended to nothing), how long to wait for readiness. */
export interface ServerSpawn {
  argv?: (cli: string[]) => string[];
  readyMs?: number;
}

/** Resolves with the server's ready line; rejects, saying what it wrote to stderr, if it exits or stays silent for `ms`. */
function waitReady(child: ChildProcess, exited: Promise<string>, stderr: () => string, ms: number): Promise<IvshmemServerReady> {
  let other = '';
  const why = (what: string): Error => {
    const out = other.trim() ? `\nits other stdout:\n${other.trim()}` : '';
    return devmapError('ERR_DEVMAP_SERVER', `devmap ivshmem-server ${what}; its stderr:\n${stderr().trim() || '(nothing)'}${out}`);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(why(`did not say it was ready (a {"event":"ready"} line on stdout) within ${ms / 1000} s`)), ms);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const r = parseReady(line);
      if (r) (clearTimeout(timer), resolve(r));
      else other += `${line}\n`;
    });
    void exited.then((how) => (clearTimeout(timer), reject(why(`exited (${how}) before it was ready`))));
  });
}

export async function startServerProcess(dir: string, o: { size: number; vectors: number }, seam: ServerSpawn = {}): Promise<ServerProcess> {
  const socket = join(dir, 'ivshmem.sock');
  const wanted = `/dev/shm/devmap-ivs-${process.pid}-${randomBytes(4).toString('hex')}`;
  const cli = [process.execPath, join(packageRoot, 'dist', 'cli.js'), 'ivshmem-server', '--json', '-s', socket, '--shm', wanted, '--size', String(o.size), '-n', String(o.vectors)];
  // setpriv: the server dies with us even if we are SIGKILLed.
  const argv = seam.argv?.(cli) ?? (haveCommand('setpriv') ? ['setpriv', '--pdeathsig', 'KILL', '--', ...cli] : cli);
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let ended = false;
  const exited = new Promise<string>((resolve) => {
    child.once('error', (e) => ((err += `${e.message}\n`), (ended = true), resolve(e.message)));
    child.once('close', (code, signal) => ((ended = true), resolve(signal ?? `status ${code}`)));
  });
  let shmPath = wanted;
  const remove = (): void => {
    rmSync(socket, { force: true });
    rmSync(shmPath, { force: true });
  };
  const abandon = (): void => {
    if (!ended) child.kill('SIGKILL');
    remove();
  };
  try {
    const ready = await waitReady(child, exited, () => err, seam.readyMs ?? 30_000);
    if (ready.socket !== socket) throw devmapError('ERR_DEVMAP_SERVER', `devmap ivshmem-server is ready on ${ready.socket}, not on ${socket}`);
    shmPath = ready.shm ?? wanted;
  } catch (e) {
    abandon();
    throw e;
  }
  return {
    socket, shmPath, size: o.size, vectors: o.vectors,
    async kill() {
      if (!ended) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!ended) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      remove();
    },
    abandon,
    log: () => err,
  };
}
