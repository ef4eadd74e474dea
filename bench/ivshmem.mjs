#!/usr/bin/env node
// ivshmem in the guest (numbers for people, not tests), ratios against a
// memcpy into ordinary guest memory measured in the same run:
//   copy    1 MiB TypedArray.set into BAR2 per cache mode (uc, wc, wb)
//   channel devmap's SPSC channel over BAR2: 4 KiB messages written and
//           read back in one process, per cache mode
// Prints one JSON object on stdout. Run it in a guest:
//   devmap guest run -- node /devmap/bench/ivshmem.mjs
import { performance } from 'node:perf_hooks';

import { Ivshmem } from 'devmap';
import { Channel } from '../dist/channel.js';

const MiB = 1 << 20;
function median(n, fn) {
  fn();
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[n >> 1];
}

const src = new Uint8Array(MiB).map((_, i) => i * 7);
const ram = new Uint8Array(MiB);
const memcpyMs = median(31, () => ram.set(src));
const out = { memcpyMiBps: 1 / (memcpyMs / 1000), modes: {} };

for (const cache of ['uc', 'wc', 'wb']) {
  const dev = Ivshmem.open({ cache });
  const bytes = dev.memory.bytes;
  const copyMs = median(31, () => bytes.set(src, 0));
  // Channel: a 1 MiB region at 1 MiB, messages of 4 KiB, 64 per round.
  const region = bytes.subarray(MiB, 2 * MiB);
  Channel.init(region);
  const w = Channel.attach(region, 'writer');
  const r = Channel.attach(region, 'reader');
  const msg = src.subarray(0, 4096);
  const rounds = 16;
  const chanMs = median(9, () => {
    for (let k = 0; k < rounds; k++) {
      for (let i = 0; i < 64; i++) if (!w.trySend(msg)) throw new Error('channel full');
      for (let i = 0; i < 64; i++) if (!r.tryRecv()) throw new Error('channel empty');
    }
  });
  const chanMiB = (rounds * 64 * 4096) / MiB;
  out.modes[cache] = {
    granted: dev.grantedCache,
    via: dev.path,
    copyMiBps: 1 / (copyMs / 1000),
    copyVsMemcpy: memcpyMs / copyMs,
    channelMiBps: chanMiB / (chanMs / 1000),
    channelVsMemcpy: memcpyMs * chanMiB / chanMs,
  };
  w.close();
  r.close();
  dev.close();
}
console.log(JSON.stringify(out));
