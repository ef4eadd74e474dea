#!/usr/bin/env node
// Host benchmarks (numbers for people, not tests): every figure is a ratio
// against a baseline measured in the same run, because these machines are
// shared and noisy. Prints one JSON object on stdout.
//
//   node bench/host.mjs [--mmap-io DIR]   DIR: where @riaskov/mmap-io is installed
//
//   map+unmap   devmap mapFile+unmap of a 64 KiB file vs @riaskov/mmap-io's
//               map plus the GC that is its only way to unmap (a forced gc()
//               every 256 maps, amortised), vs its map alone, and vs the
//               floor: mmap(2)+munmap(2) from C (bench/c/map-cycle.c; also
//               open+fstat+mmap+close+munmap, what mapFile does, from C);
//               ratios.mapCycleOverFloor = devmap ÷ that floor
//   copy N      TypedArray.set of N bytes into a devmap mapping vs into an
//               mmap-io mapping of the same file
//   read32      Mapping.read32 vs an empty N-API call vs DataView.getUint32
//   channel     the channel between two processes over a memfd: zero-copy
//               throughput vs memcpy, wake-up round trip vs a pipe
//               (bench/channel.mjs)
//
// out.ratios holds the headline ratios, one key each, added by the blocks below.
import { createRequire } from 'node:module';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { mapFile } from 'devmap';
import { native } from '../dist/native.js';
import { cProgram } from './c-program.mjs';
import { channelBenchmarks } from './channel.mjs';

const args = process.argv.slice(2);
const mmapIoDir = args.includes('--mmap-io') ? args[args.indexOf('--mmap-io') + 1] : undefined;
const gc = globalThis.gc;
if (!gc) throw new Error('run with node --expose-gc');

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Median over `reps` repetitions of ns per op for `n` calls of fn. */
function nsPerOp(n, fn, reps = 9) {
  const r = [];
  for (let k = 0; k < reps; k++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    r.push(((performance.now() - t) * 1e6) / n);
  }
  r.sort((a, b) => a - b);
  return r[reps >> 1];
}

const dir = mkdtempSync(join(tmpdir(), 'devmap-bench-'));
const file = join(dir, 'data.bin');
const SIZE = 8 << 20;
const fd = openSync(file, 'w+');
ftruncateSync(fd, SIZE);
closeSync(fd);

const out = { node: process.version, results: {}, ratios: {} };
let mmapIo;
if (mmapIoDir) mmapIo = createRequire(join(mmapIoDir, 'noop.js'))('@riaskov/mmap-io');

// map+unmap
{
  const small = join(dir, 'small.bin');
  const sfd = openSync(small, 'w+');
  ftruncateSync(sfd, 64 << 10);
  closeSync(sfd);
  // The system calls alone, from C: what no JavaScript binding can beat.
  // Its rounds alternate with devmap's, so that both see the same load.
  const cycle = cProgram('map-cycle');
  const ours = [];
  const floor = [];
  for (let k = 0; k < 5; k++) {
    ours.push(nsPerOp(2000, () => mapFile(small).unmap()));
    floor.push(cycle.run(small, 64 << 10, 2000));
  }
  cycle.remove();
  const devmap = median(ours);
  const c = Object.fromEntries(Object.keys(floor[0]).map((k) => [k, median(floor.map((f) => f[k]))]));
  const r = { devmapMapUnmapNs: devmap };
  if (mmapIo) {
    const rfd = openSync(small, 'r+');
    const mapOnly = nsPerOp(256, () => mmapIo.map(64 << 10, mmapIo.PROT_READ | mmapIo.PROT_WRITE, mmapIo.MAP_SHARED, rfd, 0));
    const withGc = nsPerOp(256, (i) => {
      mmapIo.map(64 << 10, mmapIo.PROT_READ | mmapIo.PROT_WRITE, mmapIo.MAP_SHARED, rfd, 0);
      if (i === 255) gc();
    });
    gc();
    closeSync(rfd);
    Object.assign(r, { mmapIoMapNs: mapOnly, mmapIoMapPlusGcNs: withGc, ratioVsMapPlusGc: withGc / devmap, ratioVsMapAlone: mapOnly / devmap });
  }
  Object.assign(r, {
    cMmapMunmapNs: c.mmapMunmapNs,
    cMmapNs: c.mmapNs,
    cOpenMmapMunmapNs: c.openMmapMunmapNs,
    ratioVsC: c.mmapMunmapNs / devmap,
  });
  out.results.mapUnmap = r;
}

// copies
{
  const m = mapFile(file);
  let other;
  if (mmapIo) {
    const rfd = openSync(file, 'r+');
    other = mmapIo.map(SIZE, mmapIo.PROT_READ | mmapIo.PROT_WRITE, mmapIo.MAP_SHARED, rfd, 0);
    closeSync(rfd);
  }
  out.results.copy = {};
  for (const [name, n, iters] of [['256 B', 256, 200000], ['4 KiB', 4096, 50000], ['4 MiB', 4 << 20, 40]]) {
    const src = new Uint8Array(n).fill(7);
    const bytes = m.bytes; // both sides copy into a plain Uint8Array over the mapping
    const ours = nsPerOp(iters, (i) => bytes.set(src, (i * 4096) % (SIZE - n)));
    const r = { devmapNs: ours, mbPerS: (n / ours) * 1e3 };
    if (other) {
      const theirs = nsPerOp(iters, (i) => other.set(src, (i * 4096) % (SIZE - n)));
      Object.assign(r, { mmapIoNs: theirs, ratio: theirs / ours });
    }
    out.results.copy[name] = r;
  }
  m.unmap();
}

// read32
{
  const m = mapFile(file);
  const buf = m.buffer;
  const dv = new DataView(buf);
  let sink = 0;
  const N = 2_000_000;
  const read32 = nsPerOp(N, (i) => (sink ^= m.read32((i & 1023) << 2)));
  const nativeRead32 = nsPerOp(N, (i) => (sink ^= native.read32(buf, (i & 1023) << 2)));
  const noop = nsPerOp(N, () => native.noop());
  const dataView = nsPerOp(N, (i) => (sink ^= dv.getUint32((i & 1023) << 2, true)));
  out.results.read32 = { read32Ns: read32, nativeRead32Ns: nativeRead32, emptyNapiNs: noop, dataViewNs: dataView, ratioVsEmptyNapi: read32 / noop, sink };
  m.unmap();
}

// channel: zero-copy records and futex wake-ups between two processes
{
  const { results, ratios } = await channelBenchmarks();
  out.results.channel = results;
  Object.assign(out.ratios, ratios);
}

// map cycle: a figure over its floor, both measured in this run (> 1: slower
// than the floor)
{
  const mu = out.results.mapUnmap;
  // devmap mapFile + unmap over C mmap + munmap
  out.ratios.mapCycleOverFloor = mu.devmapMapUnmapNs / mu.cMmapMunmapNs;
}

rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(out, null, 2));
