// The channel between two processes over a memfd (bench/host.mjs runs it;
// the other process is bench/channel-peer.mjs), every figure a ratio against
// a baseline measured in the same run:
//   zero-copy N   records of N bytes, written in place by this process (one
//                 TypedArray.set of N bytes from a source, plus the first and
//                 last byte stamped) and checked in place by the other (first
//                 and last byte) ÷ the same TypedArray.set + stamps into a
//                 buffer of the ring's size in one process, timed right before
//                 each rep (the memcpy baseline: the same single copy); and,
//                 as the floor of what the channel itself costs, the same
//                 records written and read in one process (fill the ring,
//                 drain it), where no scheduler stands between the two ends
//   wake          p50 round trip of a 64-byte ping-pong whose ends sleep on the
//                 futex between messages (spinUs 0, so every message wakes a
//                 sleeper) ÷ the same ping-pong over two FIFOs with blocking
//                 read/write; both also with the waits on the event loop
//                 (Channel#peek, and an echo over stdio pipes) for context
//   pinning       for the throughput figures the two ends run on CPUs 0 and 1
//                 (taskset, all threads), the C floor's as well: unpinned, the
//                 scheduler now and then puts both ends (and Node's helper
//                 threads) on one CPU, where a spinning end takes the other's
//                 time, and the figure swings 3x between runs. The wake-up
//                 figures run unpinned, JavaScript and C alike.
//   C floors      the same two-process work from C (bench/c/channel-floor.c):
//                 a bare ring of the same records ÷ C's memcpy, and a futex
//                 ping-pong ÷ a pipe ping-pong, each run right after the
//                 JavaScript figure it is the floor of
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { mapFd } from '../dist/map.js';
import { memfd } from '../dist/ipc/memfd.js';
import { Channel } from '../dist/ipc/channel.js';
import { cProgram } from './c-program.mjs';
import { pipeEcho } from './pipe-echo.mjs';

const MiB = 1 << 20;
const REGION = 4 * MiB; // each direction: a 2 MiB ring
const peerScript = new URL('./channel-peer.mjs', import.meta.url).pathname;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// Two CPUs to pin the ends of a throughput run to, when the machine has them and taskset(1).
const pinnable = cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
const allCpus = `0-${cpus().length - 1}`;
/** Pins every thread of this process to `cpus` (a taskset list). */
function pinSelf(list) {
  if (pinnable) execFileSync('taskset', ['-a', '-p', '-c', list, String(process.pid)], { stdio: 'ignore' });
}

/** A memfd of two channel regions (down: to the peer, up: back), formatted, and the peer process started on it (on CPU `cpu` when given). */
async function withPeer(args, fn, cpu) {
  const fd = memfd('devmap-bench-channel', 2 * REGION);
  const m = mapFd(fd, 'memfd');
  const down = m.bytes.subarray(0, REGION);
  const up = m.bytes.subarray(REGION);
  Channel.init(down);
  Channel.init(up);
  const argv = [process.execPath, peerScript, ...args.map(String)];
  if (cpu !== undefined && pinnable) argv.unshift('taskset', '-c', String(cpu));
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit', fd] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise((resolve) => child.stdout.once('data', resolve)); // "ready"
  try {
    return await fn(down, up);
  } finally {
    if ((await exited) !== 0) throw new Error(`bench/channel-peer.mjs ${args.join(' ')} failed`);
    m.unmap();
    closeSync(fd);
  }
}

/** Zero-copy records of `size` bytes to the peer, ÷ memcpy of the same bytes: medians over `reps`. */
async function zeroCopy(size, count, reps) {
  const src = new Uint8Array(size).map((_, i) => i * 7);
  const dst = new Uint8Array(2 * MiB);
  const memcpy = (n0) => {
    const t0 = performance.now();
    for (let n = n0, off = 0; n < n0 + count; n++, off = (off + size) % dst.length) {
      dst.set(src, off);
      dst[off] = dst[off + size - 1] = n & 255;
    }
    return performance.now() - t0;
  };
  pinSelf('0');
  try {
    return await withPeer(['read', size, (reps + 1) * count], (down) => zeroCopyRuns(down, size, count, reps, src, memcpy), 1);
  } finally {
    pinSelf(allCpus);
  }
}

/** The timed passes of zeroCopy() with the peer reading from `down`. */
function zeroCopyRuns(down, size, count, reps, src, memcpy) {
  const w = Channel.attach(down, 'writer', { futex: true });
  const pass = (n0) => {
    const t0 = performance.now();
    for (let n = n0; n < n0 + count; n++) {
      const v = w.tryReserve(size) ?? w.reserveSync(size, { timeoutMs: 60_000 });
      v.set(src);
      v[0] = v[size - 1] = n & 255;
      w.commit();
    }
    while (w.pendingBytes !== 0); // until the peer has checked and released the last
    return performance.now() - t0;
  };
  pass(0); // warm-up, untimed
  const ratios = [];
  const ms = [];
  const oneProcess = [];
  for (let rep = 1; rep <= reps; rep++) {
    const base = memcpy(rep * count);
    const t = pass(rep * count);
    ratios.push(base / t);
    ms.push(t);
    oneProcess.push(base / inOneProcess(size, count, src));
  }
  return { recordBytes: size, records: count, MiBps: (size * count) / MiB / (median(ms) / 1000), vsMemcpy: median(ratios), oneProcessVsMemcpy: median(oneProcess), pinned: pinnable };
}

const local = new Uint8Array(REGION);
Channel.init(local);
const lw = Channel.attach(local, 'writer');
const lr = Channel.attach(local, 'reader');

/** ms to move `count` records of `size` bytes through a channel whose two ends are this process: fill the ring, drain it. */
function inOneProcess(size, count, src) {
  const t0 = performance.now();
  for (let n = 0; n < count; ) {
    for (let v; n < count && (v = lw.tryReserve(size)); ) {
      v.set(src);
      v[0] = v[size - 1] = n++ & 255;
      lw.commit();
    }
    for (let m = lr.tryPeek(); m; m = lr.tryPeek()) {
      if (m.data[0] !== m.data[size - 1]) throw new Error('record is not what was written');
      lr.release();
    }
  }
  return performance.now() - t0;
}

const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))];

/** p50 (µs) of `n` timed round trips of `trip` after 100 untimed ones. */
async function p50(n, trip) {
  const t = [];
  for (let i = -100; i < n; i++) {
    const t0 = performance.now();
    await trip();
    if (i >= 0) t.push(performance.now() - t0);
  }
  return percentile(t, 0.5) * 1000;
}

const msg = new Uint8Array(64).fill(5);

/** Ping-pong over the channel, the peer's waits sync or async like ours. */
function channelPingPong(mode, n, spinUs = 0) {
  return withPeer(['echo', mode, spinUs], async (down, up) => {
    const tx = Channel.attach(down, 'writer', { spinUs, futex: true });
    const rx = Channel.attach(up, 'reader', { spinUs, futex: true });
    const send = (m) => {
      tx.tryReserve(m.length).set(m);
      tx.commit();
    };
    const result = await p50(n, async () => {
      send(msg);
      if (mode === 'sync') rx.peekSync({ timeoutMs: 60_000 });
      else await rx.peek({ timeoutMs: 60_000 });
      rx.release();
    });
    send(new Uint8Array(0)); // the peer echoes it and stops
    (await rx.peek()).data.length === 0 && rx.release();
    return result;
  });
}

/** Ping-pong over two FIFOs, blocking read/write at both ends. */
async function fifoPingPong(n) {
  const dir = mkdtempSync(join(tmpdir(), 'devmap-bench-fifo-'));
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  execFileSync('mkfifo', [a, b]);
  const child = spawn(process.execPath, [peerScript, 'fifo', a, b], { stdio: ['ignore', 'pipe', 'inherit'] });
  const out = openSync(a, 'w'); // returns once the peer opened it
  const input = openSync(b, 'r');
  const buf = new Uint8Array(64);
  const result = await p50(n, () => {
    writeSync(out, msg);
    for (let got = 0; got < 64; ) got += readSync(input, buf, got, 64 - got);
  });
  closeSync(out);
  closeSync(input);
  await new Promise((resolve) => child.on('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** Ping-pong over stdio pipes with the event loop at both ends (bench/doorbell.mjs's baseline). */
async function pipePingPong(n) {
  const echo = pipeEcho();
  const result = await p50(n, () => echo.trip(msg));
  echo.close();
  return result;
}

/** { results, ratios } of the channel benchmarks. */
export async function channelBenchmarks({ reps = 7, trips = 2000 } = {}) {
  const c = cProgram('channel-floor');
  const z64 = { ...(await zeroCopy(64 << 10, 4096, reps)), cFloor: c.run('ring', 64 << 10, 4096, reps) };
  const z4 = { ...(await zeroCopy(4 << 10, 32768, reps)), cFloor: c.run('ring', 4 << 10, 32768, reps) };
  const wake = { futexSyncUs: [], fifoSyncUs: [], futexAsyncUs: [], pipeAsyncUs: [], cFutexUs: [], cPipeUs: [], spinningSyncUs: [] };
  for (let rep = 0; rep < 3; rep++) {
    wake.futexSyncUs.push(await channelPingPong('sync', trips));
    wake.fifoSyncUs.push(await fifoPingPong(trips));
    const f = c.run('wake', trips);
    wake.cFutexUs.push(f.futexP50Us);
    wake.cPipeUs.push(f.pipeP50Us);
    wake.futexAsyncUs.push(await channelPingPong('async', trips));
    wake.spinningSyncUs.push(await channelPingPong('sync', trips, 50));
    wake.pipeAsyncUs.push(await pipePingPong(trips));
  }
  c.remove();
  const w = Object.fromEntries(Object.entries(wake).map(([k, v]) => [k, median(v)]));
  return {
    results: {
      loadAverage: loadavg(),
      memcpyBaseline: 'TypedArray.set of the record size from a source into a 2 MiB buffer, plus the same first/last byte stamps, one process',
      zeroCopy64k: z64,
      zeroCopy4k: z4,
      wakeP50: { ...w, note: 'median over 3 reps of the p50 of 2000 round trips of 64 bytes; futex: spinUs 0, both ends sleep on every message; cFutexUs, cPipeUs: the same from C; spinningSyncUs: the channel ping-pong with the default spinUs (50), whose ends mostly do not sleep' },
    },
    ratios: {
      channelZeroCopy64kOverMemcpy: z64.vsMemcpy,
      channelZeroCopy4kOverMemcpy: z4.vsMemcpy,
      channelWakeP50OverPipe: w.futexSyncUs / w.fifoSyncUs,
    },
  };
}
