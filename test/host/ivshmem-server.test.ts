// The ivshmem doorbell server and host peers on a real UNIX socket with real
// fd passing: the same protocol a QEMU ivshmem-doorbell device speaks.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { native } from '../../lib/native.js';
import { Channel } from '../../lib/ipc/channel.js';
import { openHostFile } from '../../lib/ivshmem/host.js';
import { connectIvshmemPeer, type IvshmemPeer } from '../../lib/ivshmem/peer.js';
import { startIvshmemServer, type IvshmemServer } from '../../lib/ivshmem/server.js';
import { unixConnect } from '../../lib/ipc/unix-socket.js';
import { tempDir } from '../helpers/tmp.js';

/** How many of this process's fds are open on `path`. */
const fdsOn = (path: string): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // the fd readdir itself used, closed by now
    }
  }).length;

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function server(vectors = 2, extra: { shm?: string } = {}): Promise<IvshmemServer> {
  const s = await startIvshmemServer({ socket: join(tempDir(), 'ivs.sock'), size: 1 << 16, vectors, ...extra });
  cleanup.push(() => s.close());
  return s;
}

async function peer(s: { socket: string }, vectors?: number): Promise<IvshmemPeer> {
  const p = await connectIvshmemPeer(s.socket, vectors === undefined ? {} : { vectors });
  cleanup.push(() => (p.close(), p.released()));
  return p;
}

/** Resolves with the event's first argument, or rejects after `ms`: never hangs a test. */
function event<T>(emitter: IvshmemPeer, name: string, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${name}' within ${ms} ms`)), ms);
    emitter.once(name, (v: T) => (clearTimeout(t), resolve(v)));
  });
}

/** Every message queued on a raw client socket: [value, fd count]. */
async function rawMessages(fd: number, want: number): Promise<[bigint, number][]> {
  const out: [bigint, number][] = [];
  for (let i = 0; i < 100 && out.length < want; i++) {
    await native.poll([fd], native.constants.POLLIN, 100);
    try {
      const r = native.recvFds(fd, 8, 4);
      out.push([r.data.readBigInt64LE(0), r.fds.length]);
      r.fds.forEach((f) => closeSync(f));
    } catch {
      /* EAGAIN: poll again */
    }
  }
  return out;
}

describe('ivshmem server', () => {
  it('speaks QEMU protocol 0: version, id, -1 + shm fd, then every other peer\'s vectors, then its own', async () => {
    const s = await server(3);
    const first = await peer(s, 3);
    const raw = native.unixConnect(s.socket);
    cleanup.push(() => closeSync(raw));
    const msgs = await rawMessages(raw, 9);
    expect(msgs).toEqual([[0n, 0], [1n, 0], [-1n, 1], [0n, 1], [0n, 1], [0n, 1], [1n, 1], [1n, 1], [1n, 1]]);
    expect(first.id).toBe(0);
    expect(s.peers()).toEqual([0, 1]);
  });

  it('two host peers share the memory and ring each other; counts are exact; an absent peer is not rung', async () => {
    const s = await server(2);
    const a = await peer(s, 2);
    const b = await peer(s); // vector count learned from the handshake
    expect([a.id, b.id, b.vectors]).toEqual([0, 1, 2]);
    expect(b.peers()).toEqual(new Map([[0, 2]]));
    await expect.poll(() => a.peers().get(1), { timeout: 2000 }).toBe(2);
    a.memory.bytes.set([1, 2, 3], 100);
    expect([...b.memory.bytes.subarray(100, 103)]).toEqual([1, 2, 3]);
    const wait = b.waitForInterrupt({ vector: 1, timeoutMs: 2000 });
    for (let i = 0; i < 1000; i++) a.ring(b.id, 1);
    expect(await wait).toBe(1000); // eventfds add up: a burst coalesces into one wake-up with the count
    expect(a.ring(42, 0)).toBe(false);
    expect(a.ring(b.id, 7)).toBe(false);
    await expect(b.waitForInterrupt({ vector: 0, timeoutMs: 30 })).rejects.toMatchObject({ code: 'ERR_DEVMAP_TIMEOUT' });
  });

  it('ping-pong over two channels, woken by doorbells or by polling: every byte checked, p50/p99 logged', async () => {
    const s = await server(1);
    const a = await peer(s, 1);
    const b = await peer(s, 1);
    const half = a.memory.length / 2;
    const regions = (p: IvshmemPeer) => [p.memory.bytes.subarray(0, half), p.memory.bytes.subarray(half)] as const;
    const pct = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.floor(q * (xs.length - 1))]!;
    for (const mode of ['doorbell', 'polled'] as const) {
      Channel.init(regions(a)[0]);
      Channel.init(regions(a)[1]);
      const wake = (me: IvshmemPeer, other: IvshmemPeer) =>
        mode === 'doorbell' ? { notify: () => me.ring(other.id), wait: (ms: number) => me.waitForInterrupt({ timeoutMs: ms }) } : { pollMs: 0 };
      const aw = Channel.attach(regions(a)[0], 'writer', wake(a, b));
      const ar = Channel.attach(regions(a)[1], 'reader', wake(a, b));
      const bw = Channel.attach(regions(b)[1], 'writer', wake(b, a));
      const br = Channel.attach(regions(b)[0], 'reader', wake(b, a));
      const N = 300;
      const pong = (async () => {
        for (let i = 0; i < N; i++) await bw.send((await br.recv({ timeoutMs: 5000 })).data, { timeoutMs: 5000 });
      })();
      const rtt: number[] = [];
      for (let i = 0; i < N; i++) {
        const msg = Buffer.alloc(64 + (i % 64), i & 255);
        const t0 = performance.now();
        await aw.send(msg, { timeoutMs: 5000 });
        const back = await ar.recv({ timeoutMs: 5000 });
        rtt.push(performance.now() - t0);
        expect(Buffer.from(back.data).equals(msg)).toBe(true);
      }
      await pong;
      console.log(`host ping-pong (${mode}, one process): p50 ${(pct(rtt, 0.5) * 1000).toFixed(0)} us, p99 ${(pct(rtt, 0.99) * 1000).toFixed(0)} us over ${N} round trips`);
    }
  });

  it('announces a peer that left, and hands out ids round-robin, skipping those in use', async () => {
    const s = await server(1);
    const a = await peer(s, 1);
    const b = await peer(s, 1);
    const left = event<number>(a, 'peer-left');
    b.close();
    expect(await left).toBe(1);
    expect(a.peers().size).toBe(0);
    const c = await peer(s, 1);
    expect(c.id).toBe(2); // not 1: stale rings meant for the old peer 1 must not reach it
    expect(s.peers()).toEqual([0, 2]);
  });

  it('close(): peers hear the server go, the socket file is removed, peers still ring each other', async () => {
    const s = await startIvshmemServer({ socket: join(tempDir(), 'ivs.sock'), size: 4096, vectors: 1 });
    const a = await peer(s, 1);
    const b = await peer(s, 1);
    const gone = event(a, 'server-closed');
    await s.close();
    await gone;
    expect(existsSync(s.socket)).toBe(false);
    expect(a.connected).toBe(false);
    const w = b.waitForInterrupt({ timeoutMs: 2000 });
    expect(a.ring(b.id)).toBe(true);
    expect(await w).toBe(1);
    await s.close(); // idempotent
  });

  it('a server killed with SIGKILL: peers notice within a bounded time', async () => {
    const sock = join(tempDir(), 'ivs.sock');
    const child = spawn(process.execPath, [join(process.cwd(), 'dist', 'cli.js'), 'ivshmem-server', '-s', sock, '--size', '64K'], { stdio: 'pipe' });
    cleanup.push(() => child.kill('SIGKILL'));
    await expect.poll(() => existsSync(sock), { timeout: 10_000 }).toBe(true);
    const a = await peer({ socket: sock });
    const gone = event(a, 'server-closed');
    child.kill('SIGKILL');
    await gone;
    expect(a.connected).toBe(false);
  });

  it('the CLI server stops on SIGTERM and removes its socket', async () => {
    const sock = join(tempDir(), 'ivs.sock');
    const child = spawn(process.execPath, [join(process.cwd(), 'dist', 'cli.js'), 'ivshmem-server', '-s', sock, '--size', '64K', '-n', '2'], { stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await expect.poll(() => out, { timeout: 10_000 }).toMatch(/Ctrl-C stops it/);
    expect(existsSync(sock)).toBe(true);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(out).toMatch(/SIGTERM: stopping/);
  });

  it('the CLI server with --json: one ready line on stdout once it listens, a stopped line at the end; people read stderr', async () => {
    const sock = join(tempDir(), 'ivs.sock');
    const child = spawn(process.execPath, [join(process.cwd(), 'dist', 'cli.js'), 'ivshmem-server', '--json', '-s', sock, '--size', '64K', '-n', '2'], { stdio: 'pipe' });
    cleanup.push(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await expect.poll(() => out, { timeout: 10_000 }).toMatch(/\n/);
    expect(JSON.parse(out)).toEqual({ event: 'ready', socket: sock, shm: null, size: 65536, vectors: 2, pid: child.pid });
    expect(existsSync(sock)).toBe(true); // listening when it says so
    expect(err).toMatch(/Ctrl-C stops it/);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out.trim().split('\n').map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ event: 'ready' }), { event: 'stopped', signal: 'SIGTERM' }]);
    expect(err).toMatch(/SIGTERM: stopping/);
  });

  it('/dev/shm backing: the host maps the same file, created and removed by the server', { skip: !existsSync('/dev/shm') }, async () => {
    const name = `devmap-test-${process.pid}`;
    const s = await server(1, { shm: name });
    expect(s.shmPath).toBe(`/dev/shm/${name}`);
    const p = await peer(s, 1);
    const host = openHostFile(s.shmPath!, { size: 1 << 16 });
    cleanup.push(() => host.close());
    Channel.init(host.memory.bytes);
    Channel.attach(host.memory.bytes, 'writer').trySend(Buffer.from('via /dev/shm'));
    expect(Buffer.from(Channel.attach(p.memory.bytes, 'reader').tryRecv()!.data).toString()).toBe('via /dev/shm');
    await s.close();
    expect(existsSync(s.shmPath!)).toBe(false);
  });

  it('refuses bad options with errors that say what to do', async () => {
    const sock = join(tempDir(), 'ivs.sock');
    await expect(startIvshmemServer({ socket: sock, size: 3 << 20, vectors: 1 })).rejects.toThrow(/size must be a power of two/);
    await expect(startIvshmemServer({ socket: sock, size: 4096, vectors: 0 })).rejects.toThrow(/vectors must be an integer in \[1, 64\]/);
    await expect(startIvshmemServer({ socket: 'x'.repeat(200), size: 4096, vectors: 1 })).rejects.toThrow(/107 bytes/);
    await expect(startIvshmemServer({ socket: 'é'.repeat(54), size: 4096, vectors: 1 })).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    const s = await server(1);
    await expect(startIvshmemServer({ socket: s.socket, size: 4096, vectors: 1 })).rejects.toMatchObject({ code: 'ERR_DEVMAP_SOCKET_IN_USE' });
    const file = join(tempDir(), 'plain');
    writeFileSync(file, 'x');
    await expect(startIvshmemServer({ socket: file, size: 4096, vectors: 1 })).rejects.toMatchObject({ code: 'ERR_DEVMAP_SOCKET_EXISTS' });
    await expect(startIvshmemServer({ socket: join(tempDir(), 's'), shm: file, size: 4096, vectors: 1 })).rejects.toMatchObject({
      code: 'ERR_DEVMAP_BAD_SIZE', message: expect.stringMatching(/already exists with 1 bytes, not 4096; start with size 1 \(devmap ivshmem-server --size 1\) or remove the file/),
    });
    expect(existsSync(file)).toBe(true); // not the server's file: left alone
    const none = join(tempDir(), 'none.sock');
    await expect(connectIvshmemPeer(none)).rejects.toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'connect', path: none });
    expect(() => unixConnect(none)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'connect', path: none, message: `ENOENT: no such file or directory, connect '${none}'` }));
    expect(() => native.eventfd(0, -1)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'eventfd' }));
  });

  it('the peer checks its socket path and timeout in TypeScript, and rejects (never throws)', async () => {
    const long = join(tempDir(), 'x'.repeat(120));
    await expect(connectIvshmemPeer(long)).rejects.toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/socketPath must be at most 107 bytes/) });
    await expect(connectIvshmemPeer('')).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const s = await server(1);
    for (const timeoutMs of [0, -1, NaN, Infinity, 1.5, 2 ** 31]) {
      await expect(connectIvshmemPeer(s.socket, { timeoutMs })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/timeoutMs must be an integer in \[1, 2147483647\]/) });
    }
    await expect(connectIvshmemPeer(s.socket, { timeoutMs: '5' as never })).rejects.toMatchObject({ name: 'TypeError' });
    expect(s.peers()).toEqual([]); // refused before connecting
    const p = await peer(s, 1);
    p.close();
    let wait: Promise<number> | undefined;
    expect(() => (wait = p.waitForInterrupt())).not.toThrow();
    await expect(wait).rejects.toMatchObject({ code: 'ERR_DEVMAP_CLOSED' });
  });

  it('shm: sizes an empty file it did not create and leaves it on close(); a failure closes the fd', { skip: spawnSync('mkfifo', ['--version']).status !== 0 }, async () => {
    const dir = tempDir();
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    const s = await server(1, { shm: empty });
    expect(statSync(empty).size).toBe(1 << 16);
    await s.close();
    expect(existsSync(empty)).toBe(true); // the user's file, even though it was empty
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    await expect(startIvshmemServer({ socket: join(dir, 's'), shm: fifo, size: 4096, vectors: 1 })).rejects.toMatchObject({ code: 'EINVAL', syscall: 'ftruncate' });
    expect(fdsOn(fifo)).toBe(0);
    expect(existsSync(fifo)).toBe(true);
  });
});
