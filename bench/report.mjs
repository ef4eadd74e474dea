// Turns the benchmark results into docs/BENCHMARKS.md and its plots; the
// guest sections are in report-guest.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { barChart } from './plot.mjs';
import { bootSection, doorbellSection, drmSection, restoreSection, f2, fbSection, ivshmemSection, median } from './report-guest.mjs';

const us = (ns) => (ns / 1000).toFixed(2);

export function writeReport(docs, d) {
  const plots = join(docs, 'bench');
  mkdirSync(plots, { recursive: true });
  const h = d.host.results;
  const md = [];
  md.push('# Benchmarks', '');
  md.push('Written by `npm run bench` (scripts/bench.mjs). Every figure is a **ratio** against a baseline measured in the same run; absolute times are given for context only (these machines are shared and noisy). Medians over repeated runs.', '');
  md.push('## Where they ran', '');
  md.push(`| | |`, `| --- | --- |`);
  md.push(`| date | ${d.date} |`, `| host CPU | ${d.machine.cpu}, ${d.machine.cores} cores, ${d.machine.memGiB} GiB |`, `| host kernel | ${d.machine.kernel} |`, `| Node | ${d.machine.node} |`, `| QEMU | ${d.machine.qemu} |`);
  const x86 = d.guestKernel.x86_64;
  const image = x86 && Object.entries(x86.packages).find(([n]) => n.startsWith(`linux-image-${x86.abi}`));
  if (x86) md.push(`| guest kernel (x86_64) | Debian ${[d.guestKernel.suite, x86.abi].filter(Boolean).join(' ')} (${image?.[1] ?? '?'}) |`);
  const accel = {};
  for (const [m, g] of Object.entries(d.guest)) accel[m] = g.accel;
  for (const b of Object.values(d.boots ?? {})) accel[b.machine] ??= b.accel;
  if (d.doorbell) accel[d.doorbell.machine] ??= d.doorbell.accel;
  for (const [m, a] of Object.entries(accel)) {
    const mm = d.machines?.[m];
    const cpu = mm ? `, -cpu ${a === 'kvm' ? mm.cpu : mm.cpuTcg}, ${mm.smp} vCPU, ${mm.memMiB} MiB${mm.guests ? ` each, ${mm.guests.length} guests` : ''}` : '';
    md.push(`| guest ${m} | accelerator **${a.toUpperCase()}**${cpu}${mm ? `: ${mm.describe}` : ''} |`);
  }
  md.push('');

  // Host
  md.push('## Host: devmap vs @riaskov/mmap-io, register access', '');
  const mu = h.mapUnmap;
  md.push('| what | devmap | baseline | ratio (baseline ÷ devmap; > 1: devmap faster) | target |', '| --- | --- | --- | --- | --- |');
  if (mu.mmapIoMapNs) {
    md.push(`| map + unmap cycle (64 KiB file) vs mmap-io map + its GC | ${us(mu.devmapMapUnmapNs)} µs | ${us(mu.mmapIoMapPlusGcNs)} µs | ${f2(mu.ratioVsMapPlusGc)} | |`);
    md.push(`| map + unmap cycle vs mmap-io map alone | ${us(mu.devmapMapUnmapNs)} µs | ${us(mu.mmapIoMapNs)} µs | ${f2(mu.ratioVsMapAlone)} | ≥ 1 |`);
  }
  if (mu.cMmapMunmapNs) {
    md.push(`| map + unmap cycle vs C \`mmap\`+\`munmap\` (the system calls alone) | ${us(mu.devmapMapUnmapNs)} µs | ${us(mu.cMmapMunmapNs)} µs | ${f2(mu.ratioVsC)} | |`);
    if (mu.cOpenMmapMunmapNs) {
      md.push(`| map + unmap cycle vs C \`open\`+\`fstat\`+\`mmap\`+\`close\`+\`munmap\` (what \`mapFile\` does) | ${us(mu.devmapMapUnmapNs)} µs | ${us(mu.cOpenMmapMunmapNs)} µs | ${f2(mu.cOpenMmapMunmapNs / mu.devmapMapUnmapNs)} | |`);
    }
  }
  for (const [size, c] of Object.entries(h.copy)) md.push(`| copy ${size} into a mapping | ${us(c.devmapNs)} µs | ${c.mmapIoNs ? us(c.mmapIoNs) + ' µs' : '–'} | ${f2(c.ratio)} | ≥ 0.95 |`);
  const r = h.read32;
  md.push('', '| register access | ns/op | × empty N-API call | target |', '| --- | --- | --- | --- |');
  md.push(`| \`Mapping.read32\` | ${r.read32Ns.toFixed(1)} | ${f2(r.ratioVsEmptyNapi)} | ≤ 1.5 |`);
  md.push(`| native read32 alone (no TS checks) | ${r.nativeRead32Ns.toFixed(1)} | ${f2(r.nativeRead32Ns / r.emptyNapiNs)} | |`);
  md.push(`| empty N-API call | ${r.emptyNapiNs.toFixed(1)} | 1.00 | |`);
  md.push(`| \`DataView.getUint32\` (no volatile, JIT-inlined) | ${r.dataViewNs.toFixed(1)} | ${f2(r.dataViewNs / r.emptyNapiNs)} | |`);
  if (h.channel) md.push('', ...channelSection(h.channel));
  md.push('', '![host](bench/host.png)', '');
  barChart(join(plots, 'host.png'), 'Host: ratios (copies and map cycles: mmap-io ÷ devmap; read32: ns ÷ empty N-API call)', [
    ...(mu.mmapIoMapNs ? [{ label: 'map+unmap vs map alone', value: mu.ratioVsMapAlone, target: 1 }, { label: 'map+unmap vs map+GC', value: mu.ratioVsMapPlusGc }] : []),
    ...Object.entries(h.copy).filter(([, c]) => c.ratio).map(([s, c]) => ({ label: `copy ${s}`, value: c.ratio, target: 0.95 })),
    { label: 'read32 (lower is better)', value: r.ratioVsEmptyNapi, target: 1.5, lower: true },
  ], { baseline: 'the baseline (mmap-io; an empty N-API call)' });

  // Guests
  let iv;
  for (const [m, g] of Object.entries(d.guest)) {
    md.push(`## Guest ${m} (${g.accel.toUpperCase()})`, '');
    const found = g.results.find((x) => x.modes);
    if (found) md.push(...ivshmemSection(plots, m, g, (iv = found)));
    for (const fb of g.results.filter((x) => x.fbCopy).map((x) => x.fbCopy)) md.push(...fbSection(plots, m, fb));
    for (const r of g.results.filter((x) => x.drmFlip).map((x) => x.drmFlip)) md.push(...drmSection(m, r));
  }
  if (d.doorbell) md.push(...doorbellSection(plots, d.doorbell, d.machines?.[d.doorbell.machine]));
  if (d.boots && Object.keys(d.boots).length) md.push(...bootSection(plots, d.boots, d.machines ?? {}));
  if (d.restore) md.push(...restoreSection(d.restore));
  md.push('## Notes: missed targets, and what limits the rest', '', ...notes(d, iv), '');
  writeFileSync(join(docs, 'BENCHMARKS.md'), md.join('\n'));
}

/** Why a target is missed (only those missed in this run), with this run's figures; then context for figures without a target. */
function notes(d, iv) {
  const n = [];
  const { read32: r, mapUnmap: mu } = d.host.results;
  if (r.ratioVsEmptyNapi > 1.5) {
    n.push(`- **read32 vs an empty N-API call** (here ${f2(r.ratioVsEmptyNapi)}, target ≤ 1.5). An empty call costs ~${r.emptyNapiNs.toFixed(0)} ns; a read through the addon adds \`napi_get_cb_info\` with arguments, \`napi_get_arraybuffer_info\` and boxing the result, each an exported N-API function call. \`Mapping.read32\` is an \`Atomics.load\` in JS; when it costs more than the call, the JIT has not optimised the caller (a short or polymorphic loop).`);
  }
  if (mu.mmapIoMapNs && mu.ratioVsMapAlone < 1) {
    n.push(`- **map + unmap vs mmap-io's map alone** (here ${f2(mu.ratioVsMapAlone)}, target ≥ 1). \`munmap\` in a multi-threaded process shoots down TLB entries on the other threads' CPUs (IPIs, expensive in a VM), and \`mapFile\` also opens, fstats and closes the file; mmap-io takes an fd and never unmaps (its mappings live until GC). Against mmap-io's map plus the GC that is its only way to release a mapping, devmap is faster (${f2(mu.ratioVsMapPlusGc)}).${mu.cMmapMunmapNs ? ` The floor, measured in the same run: \`mmap\`+\`munmap\` from C take ${us(mu.cMmapMunmapNs)} µs per cycle (\`mmap\` alone ${us(mu.cMmapNs)} µs), ${f2(mu.cMmapMunmapNs / mu.mmapIoMapNs)}× mmap-io's whole map: on this machine the two system calls alone cost about what the target allows, so no binding that really unmaps can meet it here. devmap's cycle is ${us(mu.devmapMapUnmapNs - mu.cMmapMunmapNs)} µs above that floor: \`mapFile\` takes a path, so it also opens, fstats and closes the file, and builds an ArrayBuffer with a finalizer.` : ''}`);
  }
  if (d.host.ratios?.mapCycleOverFloor > 2) {
    n.push(`- **map + unmap over the C floor** (here ${f2(d.host.ratios.mapCycleOverFloor)}, target ≤ 2). \`mapFile\` is one addon call (open, fstat, mmap, close; the length decided in TypeScript) and \`unmap\` another, but it takes a path: the three system calls a path costs — \`open\`, \`fstat\`, \`close\` — are not in the floor, and on this machine they cost more than \`mmap\`+\`munmap\` themselves (system calls are expensive in this VM)${mu.cOpenMmapMunmapNs ? `: the same five calls from C take ${us(mu.cOpenMmapMunmapNs)} µs, ${f2(mu.cOpenMmapMunmapNs / mu.cMmapMunmapNs)}× the floor, and devmap's cycle is ${f2(mu.devmapMapUnmapNs / mu.cOpenMmapMunmapNs)}× that` : ''}. What is left above C is N-API's external ArrayBuffer (Node builds it as a Buffer with a tracked finalizer) and its detach: the price of views that cannot outlive the mapping.`);
  }
  for (const [m, g] of Object.entries(d.guest)) {
    const r = g.results.find((x) => x.drmFlip)?.drmFlip;
    if (!r || r.ms['fbdev set+flush'] / r.ms['KMS set+flip'] >= 5) continue;
    const ms = r.ms;
    n.push(`- **KMS page flip vs fbdev set+flush** (${m}, ${r.driver}: ${f2(ms['fbdev set+flush'] / ms['KMS set+flip'])}, target ≥ 5). Both sides first write the same ${r.mode} frame: into the dumb buffer that takes ${ms['KMS set'].toFixed(1)} ms, into fbdev's shadow ${ms['fbdev set'].toFixed(1)} ms. fbdev then pays \`flush()\`, the kernel's copy of the whole shadow to VRAM (${(ms['fbdev set+flush'] - ms['fbdev set']).toFixed(1)} ms); KMS pays the flip, ${ms['KMS flip'].toFixed(1)} ms on its own: the PAGE_FLIP ioctl, the kernel's atomic commit, and the completion event's way back through the event loop (${r.driver === 'bochs-drm' ? 'bochs-drm has no vblank: the event is sent as soon as the commit is done' : 'no vblank wait on this driver either'}). The write alone would allow ${f2(r.ceiling)}×, so the write is not the floor: the flip's round trip is. 5× needs a KMS frame of at most ${(ms['fbdev set+flush'] / 5).toFixed(1)} ms, a flip of about ${Math.max(0, ms['fbdev set+flush'] / 5 - ms['KMS set']).toFixed(1)} ms, against ${ms['KMS flip'].toFixed(1)} ms measured under ${g.accel.toUpperCase()}. devmap's part of the flip is one ioctl and one read of the event off the fd; the rest is the kernel's commit path and the emulated device.`);
  }
  const slowCopies = Object.entries(d.host.results.copy).filter(([, c]) => c.ratio && c.ratio < 0.95);
  if (slowCopies.length) {
    n.push(`- **Host copies below 0.95× mmap-io** (${slowCopies.map(([size, c]) => `${size}: ${f2(c.ratio)}`).join(', ')}): both are one \`TypedArray.set\` into a shared file mapping of the same file, so the two sides run the same code; a difference of a few percent is this shared machine's noise between two medians.`);
  }
  n.push(...channelNotes(d.host.results.channel));
  if (iv) {
    const all = Object.values(iv.modes).flatMap((v) => v.channel);
    const at = (size, recv) => median(all.filter((c) => c.size === size && c.recv === recv).map((c) => c.vsMemcpy));
    const best = Math.max(...all.filter((c) => c.recv === 'zero-copy' && c.size >= 64 << 10).map((c) => c.vsMemcpy));
    if (best < 0.9) {
      n.push(`- **Zero-copy channel vs memcpy in the guest** (best at ≥ 64 KiB here ${f2(best)}, target ≥ 0.9). Zero-copy moves each byte once, as the baseline does (copying: \`tryRecvInto\` at 64 KiB ${f2(at(64 << 10, 'tryRecvInto'))}, two copies); what is left is per-record work — a view of the ring, the record header and counter stores, atomics — which under TCG is emulated instruction by instruction (4 KiB zero-copy: ${f2(at(4096, 'zero-copy'))}).`);
    }
  }
  const fbs = Object.entries(d.guest).flatMap(([m, g]) => g.results.filter((x) => x.fbCopy).map((x) => ({ m, ...x.fbCopy })));
  const slowMap = fbs.filter((fb) => fb.ms['RAM set'] / fb.ms['map set'] < 0.8);
  if (slowMap.length) {
    n.push(`- **Framebuffer mapping copy below 0.8× memcpy** (${slowMap.map((fb) => `${fb.m} ${fb.device} ${fb.id}: ${f2(fb.ms['RAM set'] / fb.ms['map set'])}`).join('; ')}). A bochs-drm framebuffer is the driver's shadow buffer under deferred I/O: each time the driver's deferred work has run, it has write-protected the pages again, and the first write to each page faults so that the driver can note it dirty — a thousand faults for a frame, each emulated under TCG. How many of the timed frames that hits depends on when the work runs, so this figure swings between runs; vesafb maps the VGA BAR directly and copies at memcpy speed.`);
  }
  const slowWrite = fbs.filter((fb) => fb.ms.writeSync / fb.ms['map set'] < 2);
  if (slowWrite.length) {
    n.push(`- **Framebuffer copy vs \`fs.writeSync\`** (${slowWrite.map((fb) => `${fb.m} ${fb.device}: ${f2(fb.ms.writeSync / fb.ms['map set'])}`).join('; ')}; target ≥ 2). Under TCG the framebuffer (bochs's shadow buffer, or the VGA BAR, which QEMU backs with host RAM) is ordinary memory, so a mapped copy and the kernel's single memcpy behind \`write(2)\` cost about the same; the 2× target assumes real MMIO, where \`write(2)\` adds a bounce buffer. On bochs-drm the mapping also pays the driver's dirty-page tracking (deferred I/O write-protects the shadow's pages after each flush, so the next frame takes a fault per page, emulated under TCG) that \`write(2)\` does not, so there \`write(2)\` can even win; the real cost on bochs-drm is \`flush()\` (the deferred-I/O copy to VRAM) either way.`);
  }
  if (iv) n.push('- **Cache modes under TCG** run at the same speed: TCG ignores the guest\'s page attributes (PAT). The kernel also turns `wb` into `uc` on QEMU `pc`, whose firmware marks the PCI hole uncachable in the MTRRs (see docs/ivshmem.md).');
  const v = d.boots?.['x86_64 vitest'];
  if (v) {
    const first = median(v.runs.map((x) => x.firstTestMs));
    if (first > 6000) {
      n.push(`- **Boot to first test under \`npm test\`** (here ${(first / 1000).toFixed(1)} s, ${f2(median(v.runs.map((x) => x.firstTestMs / x.bootMs)))}× the boot to /init; docs/guests.md's target: 6 s on this 2-core TCG machine). After /init the worker loads vitest's runtime and the spec's imports inside the guest, under TCG; docs/guests.md lists where that time goes. The \`node --test\` row starts two Node processes (the runner and the test file's) and loads devmap, hence several bare \`node -e 0\` starts after /init.${nodeTestFloor(d.boots?.['x86_64 node --test'])}`);
    }
  }
  if (d.doorbell) {
    const s = d.doorbell.samples;
    const p = (mode, q) => median(s[mode].map((x) => x[q]));
    const worse = p('polled', 'p99') > p('interrupt', 'p99');
    const polled = s.polled.map((x) => x.p50);
    n.push(`- **Doorbells** (no target; polled ÷ interrupt p50 ${f2(p('polled', 'p50') / p('interrupt', 'p50'))}, p99 ${f2(p('polled', 'p99') / p('interrupt', 'p99'))}). An interrupt round trip crosses both QEMU processes twice: the doorbell register write exits to the sender's QEMU, which signals the receiver's eventfd; the receiver's QEMU injects the MSI-X, the module wakes a \`read()\` on the libuv pool, and the event loop runs the callback. Polling skips all of that but needs a host core per spinning vCPU: each guest has one vCPU, and the host two cores for both guests and everything else, so under any other load a spinning reader takes time the other side needs (here polled p50 ranged from ${Math.min(...polled).toFixed(2)} to ${Math.max(...polled).toFixed(2)} ms between reps${worse ? ', and its p99 is worse than the interrupt\'s' : ''}). The pipe baseline shares ping's one vCPU between two processes, so under TCG it too costs milliseconds.`);
  }
  return n;
}

/** The floors of the `node --test` boot on x86_64, measured in its own boots: QEMU -> /init, node -e 0, node importing devmap. */
function nodeTestFloor(b) {
  const runs = b?.runs.filter((r) => r.devmapImportMs);
  if (!runs?.length) return '';
  const m = (k) => median(runs.map((r) => r[k]));
  const floor = m('bootMs') + m('nodeStartMs') + m('devmapImportMs');
  return ` On x86_64 its first result came ${(m('firstTestMs') / 1000).toFixed(1)} s after QEMU's start; the same boots put a floor under it of ${(floor / 1000).toFixed(1)} s: QEMU → /init ${(m('bootMs') / 1000).toFixed(1)} s (the kernel's initcalls under TCG), the runner's own Node start (\`node -e 0\`: ${m('nodeStartMs').toFixed(0)} ms) and a Node that imports devmap (${m('devmapImportMs').toFixed(0)} ms; Node 20's ES-module loader reads each module file through the libuv pool, a thread hand-off per module that TCG makes expensive).`;
}

/** The zero-copy figures of bench/channel.mjs with their targets: [size, result, target]. */
const zeroCopyRows = (c) => [['64 KiB', c.zeroCopy64k, 0.9], ['4 KiB', c.zeroCopy4k, 0.6]];

/** The channel between two processes over a memfd (bench/channel.mjs). */
function channelSection(c) {
  const z = zeroCopyRows(c);
  const w = c.wakeP50;
  return [
    `Channel between two processes over a memfd (\`bench/channel.mjs\`; load average ${c.loadAverage.map((x) => x.toFixed(1)).join(', ')}). Baseline for throughput: ${c.memcpyBaseline}. The one-process column moves the same records with both ends in one process (no scheduler between them): the floor of the channel's own cost in JavaScript. The C column is the floor of the machine, measured right after: the same work between two processes from C (\`bench/c/channel-floor.c\`: a bare ring of the same records ÷ C's memcpy; a futex ping-pong ÷ a pipe ping-pong).`,
    '',
    '| what | two processes | × baseline | one process, × baseline | C, two processes, × its baseline | target |',
    '| --- | --- | --- | --- | --- | --- |',
    ...z.map(([s, r, t]) => `| zero-copy ${s} records | ${r.MiBps.toFixed(0)} MiB/s | ${f2(r.vsMemcpy)} | ${f2(r.oneProcessVsMemcpy)} | ${r.cFloor ? f2(r.cFloor.ratio) : '–'} | ≥ ${t} |`),
    `| wake round trip p50, 64 B, futex (sync) vs FIFOs (blocking read) | ${w.futexSyncUs.toFixed(1)} µs | ${f2(w.futexSyncUs / w.fifoSyncUs)} (FIFO ${w.fifoSyncUs.toFixed(1)} µs) | – | ${w.cFutexUs ? `${f2(w.cFutexUs / w.cPipeUs)} (futex ${w.cFutexUs.toFixed(1)} µs, pipe ${w.cPipeUs.toFixed(1)} µs)` : '–'} | ≤ 0.5 |`,
    `| the same with the waits on the event loop: \`peek()\` vs a stdio pipe echo | ${w.futexAsyncUs.toFixed(1)} µs | ${f2(w.futexAsyncUs / w.pipeAsyncUs)} (pipe ${w.pipeAsyncUs.toFixed(1)} µs) | – | – | |`,
    ...(w.spinningSyncUs ? [`| the futex ping-pong with the default \`spinUs\` (50): ends spin before they sleep | ${w.spinningSyncUs.toFixed(1)} µs | ${f2(w.spinningSyncUs / w.fifoSyncUs)} | – | – | |`] : []),
  ];
}

/** Why the host channel's targets are missed, when they are, against the floors of the same run. */
function channelNotes(c) {
  if (!c) return [];
  const n = [];
  const z = zeroCopyRows(c).filter(([, r, t]) => r.vsMemcpy < t);
  if (z.length) {
    // ns per record: the channel's from its MiB/s, the baseline's from the ratio, C's from its ring's MiB/s
    const ns = (r, mibps) => (r.recordBytes / (mibps * 2 ** 20)) * 1e9;
    const perRecord = z.map(([s, r, t]) => {
      const ours = ns(r, r.MiBps);
      const c = r.cFloor ? `; C ${f2(r.cFloor.ratio)}, ${ns(r, r.cFloor.ringMiBps).toFixed(0)} ns a record` : '';
      return `${s} ${f2(r.vsMemcpy)} (target ≥ ${t}): ${ours.toFixed(0)} ns a record against ${(ours * r.vsMemcpy).toFixed(0)} ns for the baseline's copy; one process ${f2(r.oneProcessVsMemcpy)}${c}`;
    });
    n.push(`- **Zero-copy channel between two host processes**: ${perRecord.join('; ')}. The C ring, run right after with its ends pinned the same way, is the floor for the same records between two processes: the bytes are copied once either way, and a record adds the cache lines that move between the two cores (its header and last byte to the reader, the counters both ways), a larger share of a small record. What JavaScript adds per record above C — a view of the ring at each end (a \`subarray\` and the \`Message\` object), the record header, counter and waiting-word accesses, the argument and state checks — is the difference between the two per-record times; the one-process column, where one thread does both ends' work with no cache line crossing cores, shows about the same cost. Ends that slept between records would add a futex wake per record (15-30 µs here): a waiting end spins for \`spinUs\` (50 µs by default) before it sleeps, so a peer that keeps up never pays for one.`);
  }
  const w = c.wakeP50;
  if (w.futexSyncUs / w.fifoSyncUs > 0.5) {
    n.push(`- **Wake round trip vs a pipe** (${f2(w.futexSyncUs / w.fifoSyncUs)}, target ≤ 0.5${w.cFutexUs ? `; from C in the same run ${f2(w.cFutexUs / w.cPipeUs)}: futex ${w.cFutexUs.toFixed(1)} µs, pipe ${w.cPipeUs.toFixed(1)} µs` : ''}). Between two processes that sleep between messages, a futex round trip and a pipe round trip both cost two wake-ups of a sleeping process by the kernel — on this VM an interrupt to a halted virtual CPU each — and the pipe adds only a 64-byte copy each way, so C gets no closer to the target than the channel does; the channel's own part (a store, a flag check, \`FUTEX_WAKE\`) is within the noise. The target needs ends that do not sleep: with the default \`spinUs\` a waiting end spins first${w.spinningSyncUs ? `, and the same ping-pong takes ${w.spinningSyncUs.toFixed(1)} µs (${f2(w.spinningSyncUs / w.fifoSyncUs)}× the FIFOs)` : ''}.`);
  }
  return n;
}
