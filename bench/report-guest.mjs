// The guest sections of docs/BENCHMARKS.md (bench/report.mjs writes the
// rest): ivshmem copy and channel, framebuffer copies, doorbell ping-pong,
// boot to first test. Each returns markdown lines and draws its plots.
import { join } from 'node:path';

import { barChart } from './plot.mjs';

export const f2 = (v) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(2));
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const s1 = (ms) => `${(ms / 1000).toFixed(1)} s`;
const size = (n) => (n >= 1 << 20 ? `${n >> 20} MiB` : `${n >> 10} KiB`);
const chLabel = (c) => `${size(c.size)} ${c.recv}`;

/** ivshmem BAR2 copy and channel throughput per cache mode, ÷ memcpy into guest RAM. */
export function ivshmemSection(plots, m, g, iv) {
  const md = [];
  const shapes = iv.ram.channel.map(chLabel);
  md.push(`ivshmem BAR2 (4 MiB), copy and channel per cache mode. Baseline: \`TypedArray.set\` of 1 MiB into guest RAM (median ${iv.memcpyMiBps.toFixed(0)} MiB/s in this run), timed right before every sample; every figure is the median over the samples of each sample's speed ÷ its baseline, with the MiB/s for context. The channel (\`lib/ipc/channel.ts\`) runs over 3 MiB of the BAR (a 2 MiB ring), writer and reader in one process: fill the ring, drain it, 8 MiB per pass, 9 passes (31 for the copy); \`tryRecv\` returns a new array per message, \`tryRecvInto\` copies into one buffer, zero-copy writes in place (\`tryReserve\`, one \`TypedArray.set\`, \`commit\`) and checks in place (\`tryPeek\`, first and last byte, \`release\`). The RAM row is the same channel over ordinary guest memory.`, '');
  md.push(`| cache asked (granted) | copy 1 MiB | ${shapes.map((s) => `channel ${s}`).join(' | ')} |`, `| --- | --- | ${shapes.map(() => '---').join(' | ')} |`);
  const cells = (chs) => chs.map((c) => `${f2(c.vsMemcpy)} (${c.MiBps.toFixed(0)} MiB/s)`).join(' | ');
  for (const [mode, v] of Object.entries(iv.modes)) md.push(`| ${mode} (${v.granted ?? v.via}) | ${f2(v.copyVsMemcpy)} | ${cells(v.channel)} |`);
  md.push(`| guest RAM, no device | – | ${cells(iv.ram.channel)} |`);
  const best = Math.max(...Object.values(iv.modes).flatMap((v) => v.channel.filter((c) => c.recv === 'zero-copy' && c.size >= 64 << 10).map((c) => c.vsMemcpy)));
  md.push('', `Target: zero-copy channel ≥ 0.9× memcpy at ≥ 64 KiB. Best here: ${f2(best)} (${best >= 0.9 ? 'met' : 'missed; see the notes'}).`, '');
  md.push(`![ivshmem ${m}](bench/ivshmem-${m}.png)`, '');
  barChart(join(plots, `ivshmem-${m}.png`), `ivshmem in the guest (${m}, ${g.accel.toUpperCase()}): ÷ memcpy into guest RAM`, [
    ...Object.entries(iv.modes).map(([mode, v]) => ({ label: `copy 1 MiB, cache ${mode}`, value: v.copyVsMemcpy, target: null })),
    ...Object.entries(iv.modes).flatMap(([mode, v]) => v.channel.map((c) => ({ label: `channel ${chLabel(c)}, ${mode}`, value: c.vsMemcpy }))),
  ], { target: 0.9, baseline: 'memcpy into guest RAM' });
  return md;
}

/** What each bench/fb-copy.mjs method does, for the tables. */
const FB_METHODS = {
  'map set': 'map set: one `TypedArray.set` of a prepared frame into the mapping',
  'map set+sync': 'map set+sync: the same, then `flush()` (fsync)',
  putImage: '`putImage`: RGBA → pixel format in JS, row by row',
  'per-pixel': 'per-pixel: one store per pixel from a JS loop',
  writeSync: '`fs.writeSync` of the frame to the device',
  'RAM set': 'RAM set: `TypedArray.set` into guest RAM (baseline)',
};

/** Full-frame copies into one framebuffer, × RAM memcpy speed. */
export function fbSection(plots, m, fb) {
  const md = [];
  const base = fb.ms['RAM set'];
  md.push(`Framebuffer ${fb.device} (${fb.id}) ${fb.mode}, line_length ${fb.lineLength}, a full frame of ${fb.bytes} bytes; baseline \`TypedArray.set\` into guest RAM = ${base.toFixed(2)} ms.`, '');
  md.push('| method | ms | × RAM memcpy speed |', '| --- | --- | --- |');
  for (const [k, v] of Object.entries(fb.ms)) md.push(`| ${FB_METHODS[k] ?? k} | ${v.toFixed(2)} | ${f2(base / v)} |`);
  const vsWrite = fb.ms.writeSync / fb.ms['map set'];
  md.push('', `Targets: mapping copy ≥ 0.8× memcpy (here ${f2(base / fb.ms['map set'])}); ≥ 2× \`fs.writeSync\` (here ${f2(vsWrite)}).`, '');
  const name = `fb-${m}-${fb.device.replace(/\W/g, '')}.png`;
  md.push(`![fb ${m}](bench/${name})`, '');
  barChart(join(plots, name), `Full-frame copy, ${fb.id} ${fb.mode} (${m}): speed ÷ memcpy into RAM`, Object.entries(fb.ms).map(([k, v]) => ({ label: k, value: base / v, target: k === 'map set' ? 0.8 : null })), { target: 0.8, baseline: 'memcpy into guest RAM' });
  return md;
}

/** Doorbell ping-pong p50/p99 per wake-up mode, ÷ a pipe round trip between two processes in the same guest. */
export function doorbellSection(plots, d, machine) {
  const md = [];
  const med = (mode, q) => median(d.samples[mode].map((s) => s[q]));
  const pipe = { p50: med('pipe', 'p50'), p99: med('pipe', 'p99') };
  md.push('## Doorbell ping-pong between two guests', '');
  md.push(`${d.machine} under ${d.accel.toUpperCase()}: ${machine?.describe ?? d.machine}. \`ping\` sends a ${d.bytes}-byte message on a channel in the shared memory and \`pong\` sends it back (\`bench/doorbell.mjs\`; both guests booted by the harness, \`bench/guests.mjs\`). ${d.reps} reps × ${d.n} timed round trips per mode, the three modes one after the other in every rep; p50 and p99 of each rep, the **median over the reps** here. Baseline, measured in the same run in \`ping\`: the same round trip between two Node processes over a pair of pipes.`, '');
  md.push('| wake-up | p50 | p99 | p50 ÷ pipe | p99 ÷ pipe |', '| --- | --- | --- | --- | --- |');
  const rows = [
    ['pipe', 'pipe between two Node processes in `ping` (baseline)'],
    ['interrupt', 'interrupt: doorbell → MSI-X → `read()` on the libuv pool'],
    ['polled', 'polled: every event-loop turn (`pollMs: 0`)'],
  ];
  for (const [mode, what] of rows) {
    const p50 = med(mode, 'p50');
    const p99 = med(mode, 'p99');
    md.push(`| ${what} | ${p50.toFixed(2)} ms | ${p99.toFixed(2)} ms | ${f2(p50 / pipe.p50)} | ${f2(p99 / pipe.p99)} |`);
  }
  const ratio = (q) => med('polled', q) / med('interrupt', q);
  md.push('', `Polled ÷ interrupt: p50 ${f2(ratio('p50'))}, p99 ${f2(ratio('p99'))} (below 1: polling is faster). Per rep, p50 in ms: ${['interrupt', 'polled', 'pipe'].map((mode) => `${mode} ${d.samples[mode].map((s) => s.p50.toFixed(2)).join(', ')}`).join('; ')}.`, '');
  const file = `doorbell-${d.machine}.png`;
  md.push(`![doorbell ${d.machine}](bench/${file})`, '');
  barChart(join(plots, file), `Doorbell round trip between two guests (${d.accel.toUpperCase()}): ÷ pipe round trip in one guest`, [
    { label: 'interrupt p50', value: med('interrupt', 'p50') / pipe.p50, lower: true },
    { label: 'interrupt p99', value: med('interrupt', 'p99') / pipe.p99, lower: true },
    { label: 'polled p50', value: med('polled', 'p50') / pipe.p50, lower: true },
    { label: 'polled p99', value: med('polled', 'p99') / pipe.p99, lower: true },
  ], { baseline: 'pipe round trip, same percentile (lower is better)' });
  return md;
}

/** QEMU start -> first test result, per machine and way of running tests, ÷ QEMU -> /init of the same boots. */
export function bootSection(plots, boots, machines) {
  const md = [];
  md.push('## Boot to first test', '');
  md.push('From QEMU\'s start to the first test result reaching the host, **median over the boots** (each column its own median). Two ways a test runs: `node --test` in `devmap guest run` (`bench/first-result.mjs`, one test that maps the ivshmem BAR; timed to its `ok` line), and `npm test`\'s guest tier (vitest on the host, its worker in the guest; `basic.test.ts` alone, timed to its first result). Baselines from the same boots: QEMU → /init starting the command (kernel, initramfs, module loading), a bare `node -e 0` in that guest, and a node that only imports devmap (medians of 5, run right after the first test).', '');
  md.push('| machine (accelerator) | tests under | boots | QEMU → /init command | QEMU → first test | ÷ QEMU → /init | `node -e 0` | node + `import(\'devmap\')` | (first test − /init) ÷ `node -e 0` |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const bars = [];
  for (const b of Object.values(boots)) {
    const boot = median(b.runs.map((r) => r.bootMs));
    const first = median(b.runs.map((r) => r.firstTestMs));
    const vsInit = median(b.runs.map((r) => r.firstTestMs / r.bootMs));
    const starts = b.runs.filter((r) => r.nodeStartMs);
    const node = starts.length ? median(starts.map((r) => r.nodeStartMs)) : undefined;
    const vsNode = starts.length ? median(starts.map((r) => (r.firstTestMs - r.bootMs) / r.nodeStartMs)) : undefined;
    const imports = b.runs.filter((r) => r.devmapImportMs);
    const withDevmap = imports.length ? median(imports.map((r) => r.devmapImportMs)) : undefined;
    const m = machines[b.machine];
    const what = `${b.machine}${m ? ` (${m.smp} vCPU, ${m.memMiB} MiB)` : ''}${b.sideBySide ? ', two guests booting side by side' : ''}, ${b.accel.toUpperCase()}`;
    md.push(`| ${what} | ${b.how} | ${b.runs.length} | ${s1(boot)} | ${s1(first)} | ${f2(vsInit)} | ${node === undefined ? '–' : `${node.toFixed(0)} ms`} | ${withDevmap === undefined ? '–' : `${withDevmap.toFixed(0)} ms`} | ${f2(vsNode)} |`);
    bars.push({ label: `${b.machine.replace('x86_64-', '')}, ${b.how}`, value: vsInit, lower: true });
  }
  md.push('', '![boot](bench/boot.png)', '');
  barChart(join(plots, 'boot.png'), 'QEMU start to the first test result ÷ QEMU start to /init (same boots)', bars, { baseline: 'QEMU → /init starts the command (lower is better)' });
  return md;
}

/** devmap/vitest's fresh guest per file: QEMU start -> first test result of a restored guest vs a cold boot, same run. */
export function restoreSection(r) {
  const cold = median(r.cold.map((x) => x.firstTestMs));
  const restored = median(r.runs.map((x) => x.firstTestMs));
  const md = ['## A fresh guest per test file: restore vs cold boot', ''];
  md.push(`\`devmap/vitest\`'s pool on ${r.machine} (${r.accel.toUpperCase()}), \`basic.test.ts\` alone: QEMU's start to the first test result reaching the host, **median over the runs**. Cold: boots through the same pool without a snapshot, alternated with the restores. Restored: a run that took the snapshot (${s1(r.saveRunMs)} to its first result, saving included), then ${r.runs.length} runs each restoring it (QEMU loads the ${(r.snapshotBytes / 2 ** 20).toFixed(0)} MiB file, the guest resumes with vitest's worker loaded and gets the run's environment).`, '');
  md.push('| | runs | QEMU → first test | ÷ cold boot | target |', '| --- | --- | --- | --- | --- |');
  md.push(`| cold boot | ${r.cold.length} | ${s1(cold)} | 1.00 | |`);
  md.push(`| restored from the snapshot | ${r.runs.length} | ${s1(restored)} | ${f2(restored / cold)} | ≤ 1.5 s, ≤ 0.15 |`, '');
  const load = median(r.runs.map((x) => x.restoreMs));
  if (restored > 1500 || restored / cold > 0.15) {
    md.push(`Missed in this run: of the ${s1(restored)}, ${s1(load)} pass before the restored guest runs (QEMU starting, reading the snapshot file through \`exec:cat\`, loading 1 GiB of guest RAM under TCG); the rest is the run's environment reaching the guest and vitest starting the file: its module runner fetches each module the spec imports from the host, one round trip over the virtio-serial port each (devmap's own specs import its TypeScript sources, about a hundred modules; a user's spec importing the installed \`devmap\` loads it from the guest's disk instead).`, '');
  }
  return md;
}

/** bench/drm-flip.mjs: a full-frame update through fbdev and through KMS, and the tear check. */
export function drmSection(m, r) {
  const kms = r.ms['KMS set+flip'];
  const md = [`### Full-frame update: KMS page flip vs fbdev (${m}, ${r.driver}, ${r.mode}, median of ${r.frames} frames${r.date ? `, measured ${r.date}` : ''})`, ''];
  md.push('| way | ms per frame | × KMS set+flip (> 1: slower than KMS) |', '| --- | --- | --- |');
  for (const [k, ms] of Object.entries(r.ms)) md.push(`| ${k} | ${ms.toFixed(2)} | ${f2(ms / kms)} |`);
  md.push('', `fbdev \`set\`+\`flush()\` ÷ KMS \`set\`+flip = **${f2(r.ms['fbdev set+flush'] / kms)}** (target ≥ 5). The most a KMS frame can gain over fbdev here is fbdev set+flush ÷ KMS set alone (the frame's bytes must be written whatever the path) = ${f2(r.ceiling)}.`);
  if (r.tear) md.push('', `Tear check: **${r.tear.torn} torn** of ${r.tear.screendumps} QEMU screendumps taken while ${r.tear.flipped} frame-numbered frames flipped (${r.tear.framesSeen} different frames seen, ${r.tear.msPerScreendump.toFixed(0)} ms per screendump round trip).`);
  md.push('');
  return md;
}
