#!/usr/bin/env node
// Full-frame copy into each framebuffer of this machine, four ways, medians
// over N frames (not a test: numbers for people). Run it in a guest:
//   devmap guest run --machine x86_64-vesa32 -- node /devmap/bench/fb-copy.mjs
//   node bench/fb-copy.mjs [--frames N] [--device /dev/fbN]... [--json]
//   (--json adds one JSON line per device, for scripts/bench.mjs)
//
//   map set      TypedArray.set of a prepared frame (already in the
//                framebuffer's byte layout) into the mapping, row padding and all
//   map set+sync the same plus flush() (fsync): what a shadowing driver
//                (bochs-drm) needs before the frame is on the screen
//   putImage     RGBA → pixel format conversion, row by row, into the mapping
//   per-pixel    the prepared frame stored one pixel at a time from a JS loop
//                (a Uint32Array over the mapping at 32 bpp, bytes otherwise)
//   writeSync    fs.writeSync of the whole frame to /dev/fbN at offset 0
//   RAM set      TypedArray.set of the same bytes into ordinary memory
import { closeSync, existsSync, openSync, readdirSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { Framebuffer, testCard } from 'devmap';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const frames = Number(opt('--frames', 15));
const devices = args.flatMap((a, i) => (args[i - 1] === '--device' ? [a] : []));
const fbs = devices.length ? devices : readdirSync('/dev').filter((f) => /^fb\d+$/.test(f)).sort().map((f) => `/dev/${f}`);
if (fbs.length === 0) {
  console.error('fb-copy: no /dev/fb* here (run it in a guest: devmap guest run -- node /devmap/bench/fb-copy.mjs)');
  process.exit(1);
}

/** Median ms of `n` runs of fn(i), after one warm-up run. */
function median(n, fn) {
  fn(0);
  const t = [];
  for (let i = 1; i <= n; i++) {
    const t0 = performance.now();
    fn(i);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

/** Copies `src` (the device's layout) into `dst` one visible pixel per loop turn. */
function perPixel(dst, src, info) {
  const bpp = info.bitsPerPixel >>> 3;
  if (bpp === 4 && info.lineLength % 4 === 0) {
    const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length >>> 2);
    const s = new Uint32Array(src.buffer, src.byteOffset, src.length >>> 2);
    const stride = info.lineLength >>> 2;
    for (let y = 0; y < info.yres; y++) for (let x = 0, o = y * stride; x < info.xres; x++, o++) d[o] = s[o];
    return;
  }
  for (let y = 0; y < info.yres; y++) {
    for (let x = 0, o = y * info.lineLength; x < info.xres; x++, o += bpp) for (let b = 0; b < bpp; b++) dst[o + b] = src[o + b];
  }
}

const machine = process.env.DEVMAP_MACHINE ?? 'this machine';
console.log(`fb-copy on ${machine}, node ${process.version}, ${frames} frames each, medians`);
for (const path of fbs) {
  if (!existsSync(path)) throw new Error(`${path}: no such device`);
  const fb = Framebuffer.open(path);
  const i = fb.info;
  const bytes = i.lineLength * i.yres;
  // Two different frames in the device's own layout (so every copy changes
  // every byte), made by drawing the card and its inverse and reading the memory back.
  const card = testCard(i.xres, i.yres);
  const inverse = { ...card, data: card.data.map((v, k) => ((k & 3) === 3 ? v : 255 - v)) };
  const layout = [card, inverse].map((img) => {
    fb.putImage(0, 0, img);
    return fb.memory.bytes.slice(i.yoffset * i.lineLength, i.yoffset * i.lineLength + bytes);
  });
  const mem = fb.memory.bytes.subarray(i.yoffset * i.lineLength, i.yoffset * i.lineLength + bytes);
  const ram = new Uint8Array(bytes);
  const fd = openSync(path, 'r+');
  const r = {
    'map set': median(frames, (k) => mem.set(layout[k & 1])),
    'map set+sync': median(frames, (k) => {
      mem.set(layout[k & 1]);
      fb.flush();
    }),
    putImage: median(frames, (k) => fb.putImage(0, 0, k & 1 ? inverse : card)),
    'per-pixel': median(frames, (k) => perPixel(mem, layout[k & 1], i)),
    writeSync: median(frames, (k) => writeSync(fd, layout[k & 1], 0, bytes, i.yoffset * i.lineLength)),
    'RAM set': median(frames, (k) => ram.set(layout[k & 1])),
  };
  closeSync(fd);
  fb.flush();
  fb.close();
  if (args.includes('--json')) {
    console.log(JSON.stringify({ fbCopy: { device: path, id: i.id, mode: `${i.xres}x${i.yres}x${i.bitsPerPixel}`, lineLength: i.lineLength, bytes, ms: r } }));
  }
  const mib = bytes / (1 << 20);
  console.log(`\n${path} (${i.id}) ${i.xres}x${i.yres}x${i.bitsPerPixel} line_length ${i.lineLength}: frame ${bytes} bytes (${mib.toFixed(2)} MiB)`);
  for (const [name, ms] of Object.entries(r)) {
    const rate = mib / (ms / 1000);
    console.log(`  ${name.padEnd(13)} ${ms.toFixed(2).padStart(8)} ms  ${rate.toFixed(0).padStart(6)} MiB/s  ${(ms / r['RAM set']).toFixed(1).padStart(6)}x RAM set`);
  }
}
