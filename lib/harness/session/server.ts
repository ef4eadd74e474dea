// The ivshmem doorbell server of a guest test run (machine.ivshmemServer):
// `devmap ivshmem-server` as a child process, not in the harness's own
// event loop, so a spec's host hook can kill it mid-run like a crash
// (SIGKILL) and the guests see exactly what a dead server looks like. Its
// socket and /dev/shm file are removed on every path, a crash included.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
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
  /** The server's output so far (one line per join/leave). */
  log(): string;
}

export async function startServerProcess(dir: string, o: { size: number; vectors: number }): Promise<ServerProcess> {
  const socket = join(dir, 'ivshmem.sock');
  const shmPath = `/dev/shm/devmap-ivs-${process.pid}-${randomBytes(4).toString('hex')}`;
  const cli = [join(packageRoot, 'dist', 'cli.js'), 'ivshmem-server', '-s', socket, '--shm', shmPath, '--size', String(o.size), '-n', String(o.vectors)];
  // setpriv: the server dies with us even if we are SIGKILLed.
  const argv = haveCommand('setpriv') ? ['setpriv', '--pdeathsig', 'KILL', '--', process.execPath, ...cli] : [process.execPath, ...cli];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', () => undefined);
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (/Ctrl-C stops it/.test(out)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => reject(devmapError('ERR_DEVMAP_SERVER', `the ivshmem server did not start:\n${out.trim()}`)));
  });
  const remove = (): void => {
    rmSync(socket, { force: true });
    rmSync(shmPath, { force: true });
  };
  const abandon = (): void => {
    if (!ended) child.kill('SIGKILL');
    remove();
  };
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  try {
    await ready;
  } catch (err) {
    abandon();
    throw err;
  } finally {
    clearTimeout(timer);
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
    log: () => out,
  };
}
