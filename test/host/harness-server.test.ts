// The harness's ivshmem server process (lib/harness/session/server.ts):
// it waits for the server's machine-readable ready line, and a server that
// dies or never gets ready is an error that shows what it wrote to stderr.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { parseReady, startServerProcess } from '../../lib/harness/session/server.js';
import { tempDir } from '../helpers/tmp.js';

const node = (script: string) => () => [process.execPath, '-e', script];

describe('the harness ivshmem server', () => {
  it('reads only the ready line as readiness', () => {
    const line = { event: 'ready', socket: '/s', shm: null, size: 4096, vectors: 1, pid: 1 };
    expect(parseReady(JSON.stringify(line))).toEqual(line);
    expect(parseReady('ivshmem server on /s: 4M shared memory, 1 vector(s) per peer; Ctrl-C stops it')).toBeUndefined();
    expect(parseReady(JSON.stringify({ ...line, event: 'stopped' }))).toBeUndefined();
    expect(parseReady(JSON.stringify({ ...line, size: '4096' }))).toBeUndefined();
    expect(parseReady('null')).toBeUndefined();
  });

  it('starts devmap ivshmem-server, learns its files from the ready line, and stops it', async () => {
    const s = await startServerProcess(tempDir(), { size: 1 << 16, vectors: 2 });
    try {
      expect(existsSync(s.socket)).toBe(true);
      expect(s.shmPath).toMatch(/^\/dev\/shm\/devmap-ivs-/);
      expect(existsSync(s.shmPath)).toBe(true);
      expect(s.log()).toMatch(/Ctrl-C stops it/);
    } finally {
      await s.stop();
    }
    expect(existsSync(s.socket) || existsSync(s.shmPath)).toBe(false);
  });

  it('a server that dies before it is ready: the error carries its stderr', async () => {
    const dying = node('console.error("no room on /dev/shm"); process.exit(3)');
    await expect(startServerProcess(tempDir(), { size: 1 << 16, vectors: 1 }, { argv: dying })).rejects.toMatchObject({
      code: 'ERR_DEVMAP_SERVER',
      message: expect.stringMatching(/exited \(status 3\) before it was ready; its stderr:\nno room on \/dev\/shm/),
    });
  });

  it('a server that talks to people but never says it is ready: a timeout with its stderr, and the process is killed', async () => {
    const silent = node('console.log("listening; Ctrl-C stops it"); console.error("waiting as " + process.pid); setInterval(() => {}, 1000)');
    const err = await startServerProcess(tempDir(), { size: 1 << 16, vectors: 1 }, { argv: silent, readyMs: 1500 }).catch((e: Error & { code?: string }) => e);
    expect(err).toMatchObject({
      code: 'ERR_DEVMAP_SERVER',
      message: expect.stringMatching(/did not say it was ready .* within 1\.5 s; its stderr:\nwaiting as \d+\nits other stdout:\nlistening; Ctrl-C stops it/),
    });
    const pid = Number(/waiting as (\d+)/.exec((err as Error).message)![1]);
    const alive = (): boolean => {
      try {
        return process.kill(pid, 0);
      } catch {
        return false;
      }
    };
    await expect.poll(alive, { timeout: 5000 }).toBe(false);
  });
});
