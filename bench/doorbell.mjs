#!/usr/bin/env node
// Doorbell ping-pong between the two guests of x86_64-doorbell-pair, for
// `npm run bench` (bench/guests.mjs boots them; numbers for people, not
// tests). ping sends a 64-byte message on a channel, pong sends it back;
// ping times the round trip, woken by interrupts (doorbell -> MSI-X ->
// read() on the libuv pool) and polled (every event-loop turn). Baseline in
// the same guest and run: the same round trip between ping and a second
// Node process over a pair of pipes. Each rep runs all three modes in turn
// (pipe, interrupt, polled), so a noisy moment hits all of them.
//   DEVMAP_GUEST_ROLE  ping | pong
//   DEVMAP_BENCH_REPS  reps (default 5), DEVMAP_BENCH_N round trips per mode and rep (default 200)
// ping prints one JSON object: per mode, the p50 and p99 of each rep (ms).
// Shared memory, formatted by the host: channel ping->pong at 0, pong->ping
// at 64 KiB; int32 at 128 KiB: [0] ping's peer id + 1, [1] pong's.
import { performance } from 'node:perf_hooks';

import { Channel, Ivshmem } from 'devmap';

import { pipeEcho } from './pipe-echo.mjs';

const CH = 64 << 10;
const SIZE = 64;
const REPS = Number(process.env.DEVMAP_BENCH_REPS ?? 5);
const N = Number(process.env.DEVMAP_BENCH_N ?? 200);
const role = process.env.DEVMAP_GUEST_ROLE;
if (role !== 'ping' && role !== 'pong') throw new Error(`DEVMAP_GUEST_ROLE must be ping or pong, got ${role}`);

const bell = Ivshmem.list().find((d) => d.variant === 'doorbell' && d.node !== null);
if (!bell) throw new Error('no ivshmem-doorbell device with the devmap_ivshmem module');
const shm = Ivshmem.open({ address: bell.address });
const ids = new Int32Array(shm.memory.buffer, 2 * CH, 2);
const me = role === 'ping' ? 0 : 1;
Atomics.store(ids, me, shm.ivPosition + 1);
const deadline = Date.now() + 120_000;
while (Atomics.load(ids, 1 - me) === 0) {
  if (Date.now() > deadline) throw new Error('the other guest never wrote its peer id');
  await new Promise((r) => setTimeout(r, 5));
}
const other = Atomics.load(ids, 1 - me) - 1;

/** One end of channel `i` (0: ping->pong, 1: pong->ping), woken by doorbells or polling. */
function end(i, kind, polled) {
  const wake = polled ? { pollMs: 0 } : { notify: () => shm.ring(other, 0), wait: (ms) => shm.waitForInterrupt({ vector: 0, timeoutMs: ms }) };
  return Channel.attach(shm.memory.bytes.subarray(i * CH, (i + 1) * CH), kind, wake);
}

const buf = new Uint8Array(SIZE);
const MODES = ['interrupt', 'polled'];

if (role === 'pong') {
  // N + 1 per mode and rep: ping leaves the first out (it waits for the mode switch).
  for (let rep = 0; rep < REPS; rep++) {
    for (const mode of MODES) {
      const rx = end(0, 'reader', mode === 'polled');
      const tx = end(1, 'writer', mode === 'polled');
      for (let i = 0; i <= N; i++) {
        const m = await rx.recvInto(buf, { timeoutMs: 120_000 });
        await tx.send(buf.subarray(0, m.length), { timeoutMs: 30_000 });
      }
    }
  }
  shm.close();
} else {
  const msg = new Uint8Array(SIZE).fill(0x5a);
  // The baseline's partner: a second Node process that echoes what it reads.
  const echo = pipeEcho();
  /** One round trip in `mode`, as a function to time. */
  function tripper(mode) {
    if (mode === 'pipe') return () => echo.trip(msg);
    const tx = end(0, 'writer', mode === 'polled');
    const rx = end(1, 'reader', mode === 'polled');
    return async () => {
      await tx.send(msg, { timeoutMs: 30_000 });
      await rx.recvInto(buf, { timeoutMs: 120_000 });
    };
  }
  const samples = { pipe: [], interrupt: [], polled: [] };
  for (let rep = 0; rep < REPS; rep++) {
    for (const mode of ['pipe', ...MODES]) {
      const trip = tripper(mode);
      const t = [];
      for (let i = 0; i <= N; i++) {
        const t0 = performance.now();
        await trip();
        if (i > 0) t.push(performance.now() - t0);
      }
      t.sort((a, b) => a - b);
      samples[mode].push({ p50: t[Math.floor(0.5 * (t.length - 1))], p99: t[Math.floor(0.99 * (t.length - 1))] });
    }
  }
  echo.close();
  shm.close();
  console.log(JSON.stringify({ doorbell: { reps: REPS, n: N, bytes: SIZE, samples } }));
}
