#!/usr/bin/env node
// One full-frame update of the first display, several ways, in the same
// guest and the same run, medians over N frames (not a test: numbers for
// people):
//   fbdev set        TypedArray.set of a prepared frame into /dev/fb0's
//                    mapping (the shadow buffer), nothing more
//   fbdev set+flush  the same, then flush() (fsync: the shadow → VRAM copy)
//   fbdev writeSync  fs.writeSync of the frame to /dev/fb0, then fsync
//   KMS set          TypedArray.set into a dumb buffer (the back one): the
//                    floor of a KMS update, the bytes of one frame written
//   KMS flip         Presenter#present() of an already drawn buffer: a page
//                    flip, awaited on its event
//   KMS set+flip     both: what a KMS frame costs
// Then, where the guest has the devmap.host port, a tear check: frames whose
// every pixel encodes their number flip while the host takes screendumps;
// each screendump must show one whole frame (torn = 0).
// Run it in a guest:
//   devmap guest run -- node /devmap/bench/drm-flip.mjs [--frames N] [--shots N] [--json]
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { Drm, Framebuffer, Presenter, testCard } from 'devmap';

import { flipWhileCapturing } from '../dist/drm/tear.js';
import { hostPort, screenshot } from '../dist/vitest/host.js';

const args = process.argv.slice(2);
const option = (name, fallback) => Number(args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const frames = option('--frames', 15);
const shots = option('--shots', 10);

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
  results['fbdev set'] = await median(frames, () => {
    fb.memory.bytes.set(frame);
  });
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
const card = Drm.cards()[0]?.path ?? '/dev/dri/card0';
const drm = Drm.open(card);
let tear;
try {
  const p = Presenter.open(drm);
  p.back.putImage(0, 0, testCard(p.back.width, p.back.height));
  p.front.putImage(0, 0, testCard(p.front.width, p.front.height));
  const frame = p.back.memory.bytes.slice(0, p.back.pitch * p.back.height);
  results['KMS set'] = await median(frames, () => {
    p.back.memory.bytes.set(frame);
  });
  results['KMS flip'] = await median(frames, () => p.present());
  results['KMS set+flip'] = await median(frames, async () => {
    p.back.memory.bytes.set(frame);
    await p.present();
  });
  results.driver = drm.driver;
  if (hostPort()) {
    const t0 = performance.now();
    const { flipped, seen } = await flipWhileCapturing(p, () => screenshot({ card }), shots);
    tear = { screendumps: seen.length, torn: seen.filter((k) => k === undefined).length, flipped, framesSeen: new Set(seen).size, msPerScreendump: (performance.now() - t0) / seen.length };
  }
} finally {
  drm.close();
}
const kms = results['KMS set+flip'];
const keys = ['fbdev set', 'fbdev set+flush', 'fbdev writeSync', 'KMS set', 'KMS flip', 'KMS set+flip'];
const rows = keys.map((k) => [k, results[k], results[k] / kms]);
// The best a KMS frame could do against fbdev set+flush: writing its bytes and nothing else.
const ceiling = results['fbdev set+flush'] / results['KMS set'];
if (args.includes('--json')) console.log(JSON.stringify({ drmFlip: { date: new Date().toISOString().slice(0, 10), mode, driver: results.driver, frames, ms: Object.fromEntries(rows.map(([k, ms]) => [k, ms])), ceiling, tear: tear ?? null } }));
else {
  console.log(`${results.driver}, ${mode}, median of ${frames} frames`);
  for (const [k, ms, ratio] of rows) console.log(`  ${k.padEnd(16)} ${ms.toFixed(2).padStart(8)} ms  ${ratio.toFixed(2)}x KMS set+flip`);
  console.log(`  fbdev set+flush / KMS set = ${ceiling.toFixed(1)}x: the most a KMS frame can gain here (its bytes must still be written)`);
  console.log(tear
    ? `  tear check: ${tear.torn} torn of ${tear.screendumps} screendumps while ${tear.flipped} frames flipped (${tear.framesSeen} different frames seen, ${tear.msPerScreendump.toFixed(0)} ms per screendump)`
    : '  tear check: not run (no devmap.host port: run it with devmap guest run)');
}
