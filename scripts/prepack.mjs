#!/usr/bin/env node
// npm pack / npm publish: dist/ compiled afresh (no leftovers of removed
// modules), and a prebuild for every arch the harness knows
// (lib/harness/machines/arches.ts) in prebuilds/linux-<arch>/devmap.node:
// an ELF for that machine, not older than the addon's sources. Refuses to
// pack otherwise, saying to run `npm run prebuild`.
//
//   node scripts/prepack.mjs [--check-only]     (--check-only: dist/ as it is)
import { spawnSync } from 'node:child_process';
import { existsSync, openSync, readSync, closeSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** ELF e_machine per Node arch: EM_X86_64, EM_AARCH64, EM_ARM. */
const E_MACHINE = { x64: 62, arm64: 183, arm: 40 };

if (!process.argv.includes('--check-only')) {
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (spawnSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' }).status !== 0) process.exit(1);
}
const { ARCHES } = await import(pathToFileURL(join(root, 'dist', 'harness', 'machines', 'arches.js')).href);

function newest(path) {
  const st = statSync(path);
  return st.isDirectory() ? Math.max(0, ...readdirSync(path).map((n) => newest(join(path, n)))) : st.mtimeMs;
}

function machineOf(file) {
  const head = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return head.subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1')) ? head.readUInt16LE(18) : undefined;
}

const sources = Math.max(newest(join(root, 'native', 'addon')), newest(join(root, 'binding.gyp')));
const problems = Object.values(ARCHES).flatMap(({ nodeArch }) => {
  const file = join('prebuilds', `linux-${nodeArch}`, 'devmap.node');
  const path = join(root, file);
  if (!existsSync(path)) return [`${file} is missing`];
  const machine = machineOf(path);
  if (machine !== E_MACHINE[nodeArch]) return [`${file} is not a linux-${nodeArch} ELF (e_machine ${machine}, expected ${E_MACHINE[nodeArch]})`];
  if (statSync(path).mtimeMs < sources) return [`${file} is older than native/addon or binding.gyp`];
  return [];
});
if (problems.length) {
  console.error(`devmap: not packing: ${problems.join('; ')}.\nMake the prebuilds first: run "npm run prebuild"`);
  process.exit(1);
}
