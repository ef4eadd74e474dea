// The guest boots of `npm run bench` (scripts/bench.mjs), through the test
// harness's own runner, session and vitest pool, one guest (or one pair) at
// a time. Every boot first runs bench/first-result.mjs under `node --test` and
// is timed from QEMU's start to that test's `ok` line, then times `node -e 0`
// in the same guest (bench/node-start.mjs): the boot figures' baseline.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Channel, openHostFile } from '../dist/index.js';
import { closeSession, openSession, sessionEnv } from '../dist/harness/session/session.js';
import { MACHINES } from '../dist/harness/machines/machines.js';
import { runGuest } from '../dist/harness/qemu/runner.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const PROLOGUE = 'node --test --test-reporter=tap /devmap/bench/first-result.mjs && node /devmap/bench/node-start.mjs';

const jsonLines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

/**
 * Boots `machine`, runs the prologue and then `script` (a shell line);
 * resolves with the accelerator, the JSON lines the guest printed and the
 * boot: QEMU -> /init starts the command (bootMs), QEMU -> first test
 * result (firstTestMs), `node -e 0` in the guest (nodeStartMs) and a node
 * that only imports devmap (devmapImportMs).
 */
export async function bootOnce(machine, script = '', { env, ivshmemServer, timeoutMs = 600_000 } = {}) {
  let out = '';
  let okAt = 0;
  const onOutput = (t) => {
    out += t;
    if (!okAt && /^\s*ok \d+ /m.test(t)) okAt = Date.now();
  };
  const command = ['sh', '-c', [PROLOGUE, script].filter(Boolean).join(' && ')];
  const r = await runGuest({ machine, command, env, ivshmemServer, timeoutMs, onOutput });
  if (r.outcome !== 'exited' || r.status !== 0 || !okAt) throw new Error(`guest ${machine}: ${r.reason || `exit ${r.status}`}\n${out}`);
  const results = jsonLines(out);
  const qemuAt = r.console.startedAt - r.bootMs; // the runner's clock starts at QEMU's spawn
  const { nodeStartMs, devmapImportMs } = results.find((x) => x.nodeStartMs) ?? {};
  return { accel: r.accel, results, boot: { bootMs: r.bootMs, firstTestMs: okAt - qemuAt, nodeStartMs, devmapImportMs } };
}

/**
 * The guest tier of `npm test` (vitest here, its worker in the guest) with
 * one spec, timed from QEMU's start to the first test result reaching the
 * host; baseline: QEMU -> /init starting the worker, in the same boot.
 */
export async function vitestBoot(machine, spec = 'test/guest/basic.test.ts', { snapshots } = {}) {
  const entry = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const snap = snapshots ? { DEVMAP_BENCH_SNAPSHOT: '1', DEVMAP_SNAPSHOTS: snapshots } : {};
  // The session npm test gives a guest (the ivshmem marker the spec checks), without its host checks.
  const session = await openSession(machine);
  const child = spawn(process.execPath, [entry, 'run', '--config', join(here, 'first-result.vitest.config.mjs'), spec], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DEVMAP_MACHINE: machine, NO_COLOR: '1', DEVMAP_SESSION: sessionEnv(session), ...snap },
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (out += d));
  const status = await new Promise((resolve) => child.once('close', resolve));
  await closeSession(session, {});
  const lines = jsonLines(out);
  const end = lines.find((x) => x.guestEnd)?.guestEnd;
  const first = lines.find((x) => 'firstResultAt' in x);
  if (status !== 0 || !end || !first?.firstResultAt || !first.passed) throw new Error(`vitest guest tier on ${machine} (${spec}) exited with ${status}:\n${out}`);
  return { accel: end.accel, bootMs: end.bootMs, firstTestMs: first.firstResultAt - end.qemuAt, restored: /restored a snapshot/.test(out), saved: /saved a snapshot/.test(out), restoreMs: Number(/restored a snapshot \((\d+) ms\)/.exec(out)?.[1] ?? NaN) };
}

const CH = 64 << 10; // bench/doorbell.mjs's layout

/**
 * The two guests of a machine with `guests` (x86_64-doorbell-pair) on the
 * harness's ivshmem server, running bench/doorbell.mjs after the prologue;
 * booted in role order, each once the one before has joined the server.
 */
export async function runPair(machine) {
  // bench/ has no *.host.mjs: no host hooks, the bench is its own host side.
  const s = await openSession(machine, here);
  let result;
  try {
    const shm = openHostFile(s.server.shmPath, { size: s.server.size });
    for (const i of [0, 1]) Channel.init(shm.memory.bytes.subarray(i * CH, (i + 1) * CH));
    shm.memory.bytes.fill(0, 2 * CH, 2 * CH + 8); // the peer ids the guests exchange
    shm.close();
    const runs = [];
    // Side by side: the guests exchange their peer ids in shared memory.
    for (const role of s.roles) {
      runs.push(bootOnce(machine, 'node /devmap/bench/doorbell.mjs', { env: { ...s.env, ...s.roleEnv[role] }, ivshmemServer: s.server.socket }));
    }
    const ends = await Promise.all(runs);
    result = Object.fromEntries(s.roles.map((role, i) => [role, ends[i]]));
  } finally {
    const { failures } = await closeSession(s, {});
    // Only when nothing else failed: a failed run's error says more.
    if (result && failures.length) throw new Error(failures.map((f) => `${f.name}: ${f.message}`).join('\n'));
  }
  return result;
}

/**
 * Every guest figure of the report, one boot at a time: the benches of
 * x86_64 and its first vesa variant, `boots` boots of each to the first
 * test (the bench boot counts), as many through `npm test`'s vitest pool,
 * restores of a snapshot through the same pool, and the doorbell pair.
 * Returns { guest, boots, restore, doorbell, machines }.
 */
export async function measureGuests(boots, say) {
  const guest = {};
  const times = {}; // 'MACHINE HOW' -> { machine, how, accel, runs: [{ bootMs, firstTestMs, nodeStartMs? }] }
  const vesa = Object.keys(MACHINES).find((m) => /vesa/.test(m));
  const benches = { x86_64: 'node /devmap/bench/ivshmem.mjs && node /devmap/bench/fb-copy.mjs --json && node /devmap/bench/drm-flip.mjs --json', ...(vesa ? { [vesa]: 'node /devmap/bench/fb-copy.mjs --json' } : {}) };
  for (const [machine, script] of Object.entries(benches)) {
    say(`guest benchmarks on ${machine}`);
    const r = await bootOnce(machine, script);
    guest[machine] = { accel: r.accel, results: r.results };
    const b = (times[`${machine} node --test`] = { machine, how: 'node --test', accel: r.accel, runs: [r.boot] });
    for (let i = 1; i < boots; i++) {
      say(`${machine}: boot ${i + 1} of ${boots} to the first test`);
      b.runs.push((await bootOnce(machine)).boot);
    }
  }
  // Cold boots through npm test's pool, alternated with restores of a snapshot that one run took first (devmap/vitest's fresh guest per file).
  const v = (times['x86_64 vitest'] = { machine: 'x86_64', how: 'vitest', runs: [] });
  const snapshots = mkdtempSync(join(tmpdir(), 'devmap-bench-snapshots-'));
  let restore;
  try {
    say('x86_64: a vitest run that takes a snapshot');
    const saved = await vitestBoot('x86_64', undefined, { snapshots });
    const runs = [];
    for (let i = 0; i < boots; i++) {
      say(`x86_64: boot ${i + 1} of ${boots} through npm test's guest tier (vitest, basic.test.ts), then a restore`);
      const r = await vitestBoot('x86_64');
      v.accel = r.accel;
      v.runs.push(r);
      const back = await vitestBoot('x86_64', undefined, { snapshots });
      if (!back.restored) throw new Error('a run after the snapshot was saved did not restore it');
      runs.push(back);
    }
    const size = readdirSync(snapshots).filter((f) => f.endsWith('.vmstate')).map((f) => statSync(join(snapshots, f)).size)[0];
    restore = { machine: 'x86_64', accel: saved.accel, saveRunMs: saved.firstTestMs, runs, cold: v.runs, snapshotBytes: size };
  } finally {
    rmSync(snapshots, { recursive: true, force: true });
  }
  const pairName = 'x86_64-doorbell-pair';
  say(`doorbell ping-pong on ${pairName} (two guests)`);
  const pair = await runPair(pairName);
  const d = pair.ping.results.find((x) => x.doorbell)?.doorbell;
  if (!d) throw new Error(`${pairName}: ping printed no doorbell results`);
  times[`${pairName} node --test`] = { machine: pairName, how: 'node --test', accel: pair.ping.accel, runs: Object.values(pair).map((r) => r.boot), sideBySide: true };
  const used = [...Object.keys(benches), pairName];
  const machines = Object.fromEntries(used.map((m) => [m, (({ describe, cpu, cpuTcg, smp, memMiB, guests }) => ({ describe, cpu, cpuTcg, smp, memMiB, guests }))(MACHINES[m])]));
  return { guest, boots: times, restore, doorbell: { machine: pairName, accel: pair.ping.accel, ...d }, machines };
}
