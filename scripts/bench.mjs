#!/usr/bin/env node
// `npm run bench`: host and guest benchmarks, written to docs/BENCHMARKS.md
// with plots in docs/bench/. Every figure is a ratio against a baseline
// measured in the same run (the machines are shared and noisy).
//
//   node scripts/bench.mjs [--skip-guest]
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
const jsonLines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

say('compiling (tsc)');
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root]);

// The baseline library, installed beside the cache, never a dependency.
const mmapIoDir = join(cache, 'bench-mmap-io');
if (!existsSync(join(mmapIoDir, 'node_modules', '@riaskov', 'mmap-io'))) {
  say('installing @riaskov/mmap-io (the comparison baseline) into the cache');
  mkdirSync(mmapIoDir, { recursive: true });
  run('npm', ['install', '--prefix', mmapIoDir, '--no-save', '--no-audit', '--no-fund', '@riaskov/mmap-io@1.4.3'], { stdio: ['ignore', 'pipe', 'inherit'] });
}

say('host benchmarks');
const host = JSON.parse(run(process.execPath, ['--expose-gc', 'bench/host.mjs', '--mmap-io', mmapIoDir]));

const guest = {};
if (!process.argv.includes('--skip-guest')) {
  const { runGuest } = await import('../dist/qemu/runner.js');
  const { MACHINES } = await import('../dist/qemu/machines.js');
  const machines = ['x86_64', ...Object.keys(MACHINES).filter((m) => /vesa/.test(m)).slice(0, 1)];
  for (const machine of machines) {
    say(`guest benchmarks on ${machine}`);
    let out = '';
    const script = machine === 'x86_64' ? 'node /devmap/bench/ivshmem.mjs && node /devmap/bench/fb-copy.mjs --json' : 'node /devmap/bench/fb-copy.mjs --json';
    const r = await runGuest({ machine, command: ['sh', '-c', script], timeoutMs: 600_000, onOutput: (t) => (out += t) });
    if (r.outcome !== 'exited' || r.status !== 0) throw new Error(`guest ${machine}: ${r.reason || `exit ${r.status}`}\n${out}`);
    guest[machine] = { accel: r.accel, bootMs: r.bootMs, results: jsonLines(out) };
  }
}

const { writeReport } = await import('../bench/report.mjs');
writeReport(join(root, 'docs'), {
  date: new Date().toISOString().slice(0, 10),
  machine: { cpu: cpus()[0]?.model ?? '?', cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version },
  guestKernel: JSON.parse(readFileSync(join(root, 'qemu', 'guest.lock.json'), 'utf8')),
  host,
  guest,
});
say('wrote docs/BENCHMARKS.md and docs/bench/*.png');
