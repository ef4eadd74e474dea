#!/usr/bin/env node
// `npm test`: the host tier (vitest on this machine), then the guest tier
// (one QEMU boot per machine variant running its test/guest/** specs:
// vitest here, its worker in the guest) on the default kernel suite, then
// the smoke set (test/guest/smoke.test.ts) on the other suites' kernels for
// one machine per arch, then one summary line for all.
// --matrix runs every machine's full set on every suite instead.
// A guest tier that cannot run is "not run" with the reason -- and a
// failure when CI=true, never a silent skip. Skipped guest tests are listed
// per machine with their reasons; under CI=true a spec that skipped for want
// of a device its machine lists is a failure. Console logs and reports land
// in artifacts/.
//
//   node scripts/test.mjs [--host-only | --guest-only] [--machine NAME]... [--kernel SUITE]... [--matrix]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const artifacts = join(root, 'artifacts');
const args = process.argv.slice(2);
const ci = process.env.CI === 'true' || process.env.CI === '1';
const machinesAsked = args.flatMap((a, i) => (args[i - 1] === '--machine' ? [a] : []));
const suitesAsked = args.flatMap((a, i) => (args[i - 1] === '--kernel' ? [a] : []));
const matrix = args.includes('--matrix');
/** The machines the smoke set boots on the other suites: one per arch, each with every device its arch has. */
const SMOKE_MACHINES = ['x86_64', 'armhf-vexpress', 'armhf-virt', 'arm64-virt'];
const say = (line) => process.stderr.write(`test: ${line}\n`);
mkdirSync(artifacts, { recursive: true });

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** tsc when dist/ is missing or older than lib/; the addon when it is missing or older than its sources. */
function build() {
  const addon = join(root, 'build', 'Release', 'devmap.node');
  if (!existsSync(addon) || Math.max(newest(join(root, 'native', 'addon')), statSync(join(root, 'binding.gyp')).mtimeMs) > statSync(addon).mtimeMs) {
    say('building the addon');
    if (spawnSync(process.execPath, [join(root, 'scripts', 'build-addon.mjs')], { stdio: 'inherit' }).status !== 0) process.exit(1);
  }
  if (!existsSync(join(root, 'dist', 'cli.js')) || newest(join(root, 'lib')) > newest(join(root, 'dist'))) {
    say('compiling lib/ -> dist/ (tsc)');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    if (spawnSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' }).status !== 0) process.exit(1);
  }
}

const running = new Set();

/** Output of a child, each line prefixed (two guests' vitest runs interleave). */
function prefixed(stream, out, prefix) {
  let partial = '';
  stream.setEncoding('utf8').on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const l of lines) out.write(`${prefix}${l}\n`);
  });
  stream.on('end', () => partial && out.write(`${prefix}${partial}\n`));
}

/**
 * One vitest run on the host; counts from its JSON report. Asynchronous, so
 * that what the harness serves meanwhile (an ivshmem server's host peer in a
 * spec's host hook) keeps running; `prefix` marks its lines.
 */
async function vitest(name, vitestArgs, env = {}, prefix = '') {
  const report = join(artifacts, `${name.replace(/\s+/g, '-')}-vitest.json`);
  rmSync(report, { force: true });
  const entry = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const child = spawn(process.execPath, [entry, 'run', ...vitestArgs, '--reporter', 'default', '--reporter', 'json', '--outputFile.json', report], {
    cwd: root, stdio: prefix ? ['inherit', 'pipe', 'pipe'] : 'inherit', env: { ...process.env, ...env },
  });
  running.add(child);
  if (prefix) {
    prefixed(child.stdout, process.stdout, prefix);
    prefixed(child.stderr, process.stderr, prefix);
  }
  const r = await new Promise((resolve) => child.once('close', (status) => resolve({ status })));
  running.delete(child);
  if (!existsSync(report)) return { name, passed: 0, failed: 1, skipped: 0, skips: [], failures: [{ name, message: `vitest exited with ${r.status} and wrote no report` }] };
  const tier = { name, ...readReport(report, root) };
  if (r.status !== 0 && tier.failed === 0) {
    tier.failed++;
    tier.failures.push({ name, message: `vitest exited with ${r.status} (an error outside the tests; see above)` });
  }
  return tier;
}

/**
 * One guest per machine -- or, for a machine with several (machine.guests),
 * one per role, booted one after the other joined the ivshmem server and
 * then running side by side: vitest runs here with
 * qemu/vitest.guest.config.mjs, whose pool boots the guest and runs vitest's
 * worker inside it (lib/vitest/pool.ts); host hooks, the ivshmem marker
 * and the ivshmem server come from lib/harness/session/session.ts.
 */
async function guestTiers() {
  const h = await loadHarness();
  // Ctrl-C reaches the vitest runs too (same process group); SIGTERM to us alone must as well.
  h.onCleanup(() => running.forEach((c) => c.kill('SIGTERM')));
  const tiers = [];
  for (const run of guestPlan(h)) {
    // The harness in this process (image, session) and the vitest run both read these.
    Object.assign(process.env, { DEVMAP_KERNEL: run.suite }, run.specs ? { DEVMAP_SPECS: run.specs } : {});
    tiers.push(...(await machineTiers(h, run.machine, run.suite === h.defaultSuite ? '' : ` (${run.suite})`)));
  }
  return tiers;
}

/** Which machines boot on which kernel suite, with which specs. */
function guestPlan(h) {
  const suites = suitesAsked.length ? suitesAsked : matrix ? h.suiteNames() : [h.defaultSuite];
  const all = machinesAsked.length ? machinesAsked : Object.keys(h.MACHINES);
  const plan = suites.flatMap((suite) => all.map((machine) => ({ suite, machine, specs: matrix ? 'full' : process.env.DEVMAP_SPECS })));
  if (matrix || suitesAsked.length) return plan;
  // npm test: the smoke set on the other suites' kernels, one machine per arch.
  const smoke = (machinesAsked.length ? machinesAsked : SMOKE_MACHINES).filter((m) => h.MACHINES[m]);
  return [...plan, ...h.suiteNames().filter((s) => s !== h.defaultSuite).flatMap((suite) => smoke.map((machine) => ({ suite, machine, specs: 'smoke' })))];
}

/** The parts of the harness (dist/) the guest tier drives. */
async function loadHarness() {
  const { prepareImage } = await import('../dist/harness/image/image.js');
  const { openSession, closeSession, sessionEnv, guestArtifact } = await import('../dist/harness/session/session.js');
  const { onCleanup } = await import('../dist/harness/qemu/cleanup.js');
  const { MACHINES } = await import('../dist/harness/machines/machines.js');
  const { DEFAULT_SUITE, findSuite, suiteNames } = await import('../dist/harness/machines/suites.js');
  const defaultSuite = findSuite().name; // $DEVMAP_KERNEL, else the default suite
  for (const s of suitesAsked) findSuite(s); // an unknown one: the error lists the valid ones
  return { prepareImage, openSession, closeSession, sessionEnv, guestArtifact, onCleanup, MACHINES, DEFAULT_SUITE, defaultSuite, suiteNames };
}

/** One machine's tiers, one per guest; a machine that cannot run is one tier that says why. */
async function machineTiers(h, name, suffix) {
  try {
    if (!h.MACHINES[name]) throw new Error(`no machine "${name}"; known: ${Object.keys(h.MACHINES).join(', ')}`);
    h.prepareImage(h.MACHINES[name].arch, undefined, process.env.DEVMAP_KERNEL, { vitest: true });
  } catch (err) {
    // A companion module that does not build is a failure of this kernel, not a reason the tier could not run.
    if (err.code === 'ERR_DEVMAP_KMOD_BUILD') return [{ name: `guest ${name}${suffix}`, passed: 0, failed: 1, skipped: 0, skips: [], failures: [{ name: 'kernel modules (build)', message: err.message }] }];
    return [{ name: `guest ${name}${suffix}`, passed: 0, failed: 0, skipped: 0, failures: [], skips: [], notRun: err.message }];
  }
  const roles = h.MACHINES[name].guests ?? [''];
  let session;
  try {
    session = await h.openSession(name);
  } catch (err) {
    return [{ name: `guest ${name}${suffix}`, passed: 0, failed: 1, skipped: 0, skips: [], failures: [{ name: `guest ${name}${suffix} (host side)`, message: err.stack ?? err.message }] }];
  }
  const ends = {};
  // The guests of a machine with roles boot side by side: peer ids are the
  // ivshmem server's to give, and the specs exchange them in shared memory.
  const tiers = await Promise.all(roles.map((role) => guestRun(h, name, role, session, ends, suffix)));
  addHostSide(tiers[tiers.length - 1], await h.closeSession(session, ends));
  for (const t of tiers) judgeSkips(t, h.MACHINES[name].devices);
  return tiers;
}

/** One guest's vitest run; the guest's end record (accelerator, timings) lands in `ends[role]` for closeSession. */
function guestRun(h, name, role, session, ends, suffix) {
  const art = h.guestArtifact(name, role);
  const label = `guest ${name}${role ? ` ${role}` : ''}${suffix}`;
  rmSync(join(artifacts, `${art}.json`), { force: true });
  say(`booting ${name}${role ? ` ${role}` : ''} on the ${process.env.DEVMAP_KERNEL} kernel: its test/guest specs, vitest's worker in the guest (console log: artifacts/${art}.log)`);
  return vitest(label, ['--config', join(root, 'qemu', 'vitest.guest.config.mjs')], {
    DEVMAP_MACHINE: name, DEVMAP_SESSION: h.sessionEnv(session, role || undefined), NO_COLOR: '1',
  }, role ? `[${role}] ` : '').then((tier) => {
    const endFile = join(artifacts, `${art}.json`);
    ends[role] = existsSync(endFile) ? JSON.parse(readFileSync(endFile, 'utf8')) : undefined;
    const end = ends[role];
    if (end) say(`${label} (${end.accel}): /init started the worker ${(end.bootMs / 1000).toFixed(1)} s after QEMU, worker ready ${(end.readyMs / 1000).toFixed(1)} s, guest done ${(end.totalMs / 1000).toFixed(1)} s`);
    return tier;
  });
}

/** The host side's findings (closeSession) count in the machine's last tier. */
function addHostSide(last, closed) {
  last.passed += closed.passed;
  last.failed += closed.failures.length;
  last.failures.push(...closed.failures);
}

/** Skips of a device the machine lists: a warning here, a failure under CI=true. */
function judgeSkips(t, devices) {
  t.skipReport = true;
  const listed = listedSkips(t.skips, devices);
  if (!ci) listed.forEach((f) => say(`${t.name}: ${f.name}: ${f.message} (a failure with CI=true)`));
  else {
    t.failed += listed.length;
    t.failures.push(...listed.map((f) => ({ ...f, message: `${f.message} (CI=true: a skip of a listed device is a failure)` })));
  }
}

const started = Date.now();
build();
// Reads the vitest reports of both tiers: counts, failures, skips and their reasons.
const { readReport, listedSkips, skipLines } = await import('../dist/harness/session/report.js');
const tiers = [];
if (!args.includes('--guest-only')) tiers.push(await vitest('host', []));
if (!args.includes('--host-only')) tiers.push(...(await guestTiers()));

let passed = 0;
let failed = 0;
console.log('');
for (const t of tiers) {
  for (const f of t.failures) console.log(`FAIL ${t.name}: ${f.name}\n  ${f.message.split('\n').join('\n  ')}\n`);
}
for (const t of tiers) {
  if (t.notRun) {
    console.log(`${t.name}: NOT RUN: ${t.notRun}${ci ? ' (CI=true: counted as a failure)' : ''}`);
    if (ci) failed++;
    continue;
  }
  console.log(`${t.name}: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
  if (t.skipReport) for (const line of skipLines(t.skips)) console.log(`  skipped ${line}`);
  passed += t.passed;
  failed += t.failed;
}
console.log(`${passed} passed, ${failed} failed (${((Date.now() - started) / 1000).toFixed(0)} s)`);
process.exitCode = failed > 0 ? 1 : 0;
