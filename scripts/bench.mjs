#!/usr/bin/env node
// `npm run bench`: host and guest benchmarks, written to docs/BENCHMARKS.md
// with plots in docs/bench/. Every figure is a ratio against a baseline
// measured in the same run (the machines are shared and noisy).
//
// Guest boots run one at a time (the doorbell pair as one): the benches of
// x86_64 and its vesa32 variant, more boots of each for the boot figures
// (--boots N, default 3: median of N), the same number through `npm test`'s
// vitest pool, and the doorbell ping-pong pair (bench/guests.mjs).
//
// The raw results go to docs/bench/results.json; --report-only writes the
// report and plots again from that file, without measuring.
//
//   node scripts/bench.mjs [--skip-guest] [--boots N] [--report-only]
import { spawnSync } from 'node:child_process';
import { cpus, homedir, release, totalmem } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const say = (s) => process.stderr.write(`bench: ${s}\n`);
const cache = process.env.DEVMAP_CACHE ?? join(homedir(), '.cache', 'devmap');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : process.argv[i + 1];
};
const BOOTS = Number(arg('--boots', 3));
if (!Number.isInteger(BOOTS) || BOOTS < 1) throw new Error(`--boots takes a whole number >= 1, got ${arg('--boots')}`);

say('compiling (tsc)');
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root]);

const resultsFile = join(root, 'docs', 'bench', 'results.json');
let data;
if (process.argv.includes('--report-only')) {
  data = JSON.parse(readFileSync(resultsFile, 'utf8'));
} else {
  // The baseline library, installed beside the cache, never a dependency.
  const mmapIoDir = join(cache, 'bench-mmap-io');
  if (!existsSync(join(mmapIoDir, 'node_modules', '@riaskov', 'mmap-io'))) {
    say('installing @riaskov/mmap-io (the comparison baseline) into the cache');
    mkdirSync(mmapIoDir, { recursive: true });
    run('npm', ['install', '--prefix', mmapIoDir, '--no-save', '--no-audit', '--no-fund', '@riaskov/mmap-io@1.4.3'], { stdio: ['ignore', 'pipe', 'inherit'] });
  }
  say('host benchmarks');
  const host = JSON.parse(run(process.execPath, ['--expose-gc', 'bench/host.mjs', '--mmap-io', mmapIoDir]));
  const { measureGuests } = await import('../bench/guests.mjs');
  const guests = process.argv.includes('--skip-guest') ? { guest: {}, boots: {}, machines: {} } : await measureGuests(BOOTS, say);
  const qemu = (spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0].replace(/^QEMU emulator version\s*/, '') || '?';
  data = {
    date: new Date().toISOString().slice(0, 10),
    machine: { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version, qemu },
    guestKernel: await guestKernel(),
    host,
    ...guests,
  };
  mkdirSync(dirname(resultsFile), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(data, null, 1)}\n`);
}

/** The x86_64 kernel the guests booted: the default suite's pin (DEVMAP_KERNEL picks another). */
async function guestKernel() {
  const { findSuite } = await import('../dist/harness/machines/suites.js');
  const suite = findSuite().name;
  const lock = JSON.parse(readFileSync(join(root, 'qemu', 'guest.lock.json'), 'utf8'));
  return { suite, x86_64: lock[`${suite}/x86_64`] };
}

const { writeReport } = await import('../bench/report.mjs');
writeReport(join(root, 'docs'), data);
say('wrote docs/BENCHMARKS.md and docs/bench/*.png (raw results: docs/bench/results.json)');
