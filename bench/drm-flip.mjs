#!/usr/bin/env node
// One full-frame update of the first display, three ways, in the same guest
// and the same run, medians over N frames (not a test: numbers for people):
//   fbdev set+flush  TypedArray.set of a prepared frame into /dev/fb0's
//                    mapping, then flush() (fsync: the shadow → VRAM copy)
//   fbdev writeSync  fs.writeSync of the frame to /dev/fb0, then fsync
//   KMS set+flip     TypedArray.set into a dumb buffer (the back one), then
//                    Presenter#present(): a page flip, awaited on its event
// Run it in a guest:
//   devmap guest run -- node /devmap/bench/drm-flip.mjs [--frames N] [--json]
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { Drm, Framebuffer, Presenter, testCard } from 'devmap';

const args = process.argv.slice(2);
const frames = Number(args.includes('--frames') ? args[args.indexOf('--frames') + 1] : 15);

/** Median ms of `n` runs of fn(i), after one warm-up run. */
async function median(n, fn) {
  await fn(0);
  const t = [];
  for (let i = 1; i <= n; i++) {
    const t0 = performance.now();
    await fn(i);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

const results = {};
let mode;
const fb = Framebuffer.open('/dev/fb0');
try {
  fb.putImage(0, 0, testCard(fb.width, fb.height));
  const frame = fb.memory.bytes.slice(0, fb.info.lineLength * fb.height);
  mode = `${fb.width}x${fb.height}`;
  results['fbdev set+flush'] = await median(frames, () => {
    fb.memory.bytes.set(frame);
    fb.flush();
  });
  const fd = openSync('/dev/fb0', 'r+');
  try {
    results['fbdev writeSync'] = await median(frames, () => {
      writeSync(fd, frame, 0, frame.length, 0);
      fsyncSync(fd);
    });
  } finally {
    closeSync(fd);
  }
} finally {
  fb.close();
}
// Node 20 has no `using`: close by hand (Drm#close also restores the CRTC).
const drm = Drm.open('/dev/dri/card0');
try {
  const p = Presenter.open(drm);
  p.back.putImage(0, 0, testCard(p.back.width, p.back.height));
  const frame = p.back.memory.bytes.slice(0, p.back.pitch * p.back.height);
  results['KMS set+flip'] = await median(frames, async () => {
    p.back.memory.bytes.set(frame);
    await p.present();
  });
  results.driver = drm.driver;
} finally {
  drm.close();
}
const kms = results['KMS set+flip'];
const rows = ['fbdev set+flush', 'fbdev writeSync', 'KMS set+flip'].map((k) => [k, results[k], results[k] / kms]);
if (args.includes('--json')) console.log(JSON.stringify({ mode, driver: results.driver, frames, ms: Object.fromEntries(rows.map(([k, ms]) => [k, ms])) }));
else {
  console.log(`${results.driver}, ${mode}, median of ${frames} frames`);
  for (const [k, ms, ratio] of rows) console.log(`  ${k.padEnd(16)} ${ms.toFixed(2).padStart(8)} ms  ${ratio.toFixed(1)}x KMS`);
}
