#!/usr/bin/env node
// ivshmem in the guest (numbers for people, not tests), ratios against a
// memcpy into ordinary guest memory timed right before each sample:
//   copy    1 MiB TypedArray.set into BAR2 per cache mode (uc, wc, wb)
//   channel devmap's SPSC channel over BAR2 (3 MiB region, 2 MiB ring),
//           written and read back in one process, per cache mode: 4 KiB
//           messages taken with tryRecv (a new array each), and 4 KiB,
//           64 KiB and 512 KiB messages taken with tryRecvInto (one buffer);
//           the same sizes zero-copy: written in place (reserve, one
//           TypedArray.set, commit) and checked in place (peek, first and
//           last byte, release); and all over a region of guest RAM, for
//           reference. (A message is at most half the ring: 512 KiB, not
//           the 1 MiB of channel version 1, whose records could wrap.)
// Prints one JSON object on stdout. Run it in a guest:
//   devmap guest run -- node /devmap/bench/ivshmem.mjs
import { performance } from 'node:perf_hooks';

import { Ivshmem } from 'devmap';
import { Channel } from '../dist/ipc/channel.js';

const MiB = 1 << 20;
const KiB = 1 << 10;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const src = new Uint8Array(MiB).map((_, i) => i * 7);
const ram = new Uint8Array(MiB);
const memcpyMs = [];

/**
 * `fn` moves `bytes`: n rounds of the baseline (1 MiB memcpy into guest RAM,
 * 4 times) right before `fn`, so each round's ratio has its own baseline and
 * a slow moment of the machine hits both. Returns the median ratio (the time
 * memcpy would take for `bytes` ÷ fn's time) and fn's median MiB/s.
 */
function vsMemcpy(n, bytes, fn) {
  fn();
  ram.set(src);
  const ratios = [];
  const ms = [];
  for (let i = 0; i < n; i++) {
    let t0 = performance.now();
    for (let k = 0; k < 4; k++) ram.set(src);
    const perMiB = (performance.now() - t0) / 4;
    t0 = performance.now();
    fn();
    const t = performance.now() - t0;
    memcpyMs.push(perMiB);
    ms.push(t);
    ratios.push((perMiB * bytes) / MiB / t);
  }
  return { MiBps: bytes / MiB / (median(ms) / 1000), vsMemcpy: median(ratios) };
}

/** Writes one message: a copy (trySend), or in place (tryReserve, one set, commit). */
function put(w, msg, recv) {
  if (recv !== 'zero-copy') return w.trySend(msg);
  const v = w.tryReserve(msg.length);
  if (!v) return false;
  v.set(msg);
  w.commit();
  return true;
}

/** Takes one message: a copy (tryRecv, tryRecvInto), or in place (tryPeek, first and last byte checked, release). */
function take(r, recv, into) {
  if (recv === 'tryRecv') return r.tryRecv();
  if (recv === 'tryRecvInto') return r.tryRecvInto(into);
  const m = r.tryPeek();
  if (m && (m.data[0] !== src[0] || m.data[m.data.length - 1] !== src[m.data.length - 1])) throw new Error('record is not what was written');
  if (m) r.release();
  return m;
}

/** Moves `total` bytes through the channel in `size`-byte messages: fill the ring, drain it, again. */
function pump(w, r, size, recv, total) {
  const msg = src.subarray(0, size);
  const into = new Uint8Array(size);
  for (let moved = 0; moved < total;) {
    let n = 0;
    while (moved + n * size < total && put(w, msg, recv)) n++;
    if (n === 0) throw new Error('channel full');
    for (let i = 0; i < n; i++) if (!take(r, recv, into)) throw new Error('channel empty');
    moved += n * size;
  }
}

const CHANNEL = [
  { size: 4 * KiB, recv: 'tryRecv' },
  { size: 4 * KiB, recv: 'tryRecvInto' },
  { size: 64 * KiB, recv: 'tryRecvInto' },
  { size: 512 * KiB, recv: 'tryRecvInto' },
  { size: 4 * KiB, recv: 'zero-copy' },
  { size: 64 * KiB, recv: 'zero-copy' },
  { size: 512 * KiB, recv: 'zero-copy' },
];
const TOTAL = 8 * MiB; // per timed pass

/** Each channel shape over `region`, ÷ memcpy. */
function channels(region) {
  return CHANNEL.map(({ size, recv }) => {
    Channel.init(region);
    const w = Channel.attach(region, 'writer');
    const r = Channel.attach(region, 'reader');
    const v = vsMemcpy(9, TOTAL, () => pump(w, r, size, recv, TOTAL));
    w.close();
    r.close();
    return { size, recv, ...v };
  });
}

// The same channel over ordinary guest RAM: what the device costs on top.
// Run twice, the first untimed, so the JIT has compiled the channel before
// the cache mode measured first.
const out = { modes: {} };
const ramRegion = new Uint8Array(3 * MiB);
channels(ramRegion);
out.ram = { channel: channels(ramRegion) };

for (const cache of ['uc', 'wc', 'wb']) {
  const dev = Ivshmem.open({ cache });
  const bytes = dev.memory.bytes;
  const copy = vsMemcpy(31, MiB, () => bytes.set(src, 0));
  out.modes[cache] = {
    granted: dev.grantedCache,
    via: dev.path,
    copyMiBps: copy.MiBps,
    copyVsMemcpy: copy.vsMemcpy,
    channel: channels(bytes.subarray(MiB, 4 * MiB)),
  };
  dev.close();
}
out.memcpyMiBps = 1 / (median(memcpyMs) / 1000);
console.log(JSON.stringify(out));
