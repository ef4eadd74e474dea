// The guest's root file system (an uncompressed initramfs): busybox, the
// host's node and its libraries, the addon, the compiled package with the
// node_modules it needs (and vitest's for the guest tier), the kernel
// modules, and /init. devmap may be its own checkout or installed in a
// user's project: everything goes at the path it has here.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';

import { packageRoot } from '../../paths.js';
import { devmapError } from '../../errors.js';
import { MACHINES } from '../machines/machines.js';
import { cacheDir, run, sha256, type Log } from './cache.js';
import { writeCpio, type CpioEntry } from './cpio.js';
import { externalizedBuiltins, FileSet, lddLibraries } from './files.js';
import { addUserland, busyboxApplets } from './foreign.js';
import { GUEST_PROGRAMS } from './hosttools.js';
import type { GuestKernel } from './kernel.js';
import type { BuiltModule } from './kmods.js';
import { guestModulePath, moduleFile, resolveModules } from './kdeps.js';
import { GUEST_TIER_PACKAGES, nodeModulesClosure } from './npmdeps.js';

/**
 * The project's short name in the guest, a link to its real place there:
 * the same path as on the host, so that module ids a host-side vitest sends
 * (lib/vitest/pool.ts) resolve unchanged in the guest.
 */
export const GUEST_PROJECT = '/devmap';
/** Where our kernel modules live in the guest. */
export const GUEST_KMODS = '/lib/modules/devmap';

/**
 * Package files the guest needs besides node_modules and the addon; a
 * checkout's lib/, test/ and bench/ too (specs import sources), which an
 * installed package does not have.
 */
const PROJECT_PARTS = ['package.json', 'vitest.config.mjs', 'dist', 'lib', 'test', 'bench'];

/** The addon the guest loads (lib/harness/image/addon.ts): a file or a prebuilds/ folder, at `to`. */
export interface GuestAddon {
  from: string;
  to: string;
}

export interface RootfsOptions {
  addon: GuestAddon;
  /** A foreign guest's own Node, libraries and programs (lib/harness/image/foreign.ts). */
  userland?: string;
  /** Bring vitest (the guest tier's worker) and what it needs. */
  vitest: boolean;
}

function addBusybox(fs: FileSet, busybox: string, foreign: boolean): void {
  fs.file(busybox, '/bin/busybox', 0o755);
  const applets = foreign ? busyboxApplets(busybox) : run(busybox, ['--list']).split('\n');
  for (const applet of applets.filter(Boolean)) {
    if (applet !== 'busybox') fs.add({ type: 'symlink', path: `/bin/${applet}`, target: 'busybox' });
  }
  // Shebangs say /usr/bin/env; /sbin is on nobody's PATH check list but scripts expect it.
  fs.add({ type: 'symlink', path: '/usr/bin/env', target: '/bin/busybox' });
  fs.add({ type: 'symlink', path: '/sbin', target: 'bin' });
}

function addProject(fs: FileSet, o: RootfsOptions): void {
  if (!existsSync(join(packageRoot, 'dist'))) throw devmapError('ERR_DEVMAP_BUILD', `${packageRoot}/dist is missing: run "npm run compile" there (a package from npm ships it)`);
  for (const part of PROJECT_PARTS) {
    const src = join(packageRoot, part);
    if (!existsSync(src)) continue;
    if (part.includes('.')) fs.file(src, posix.join(packageRoot, part));
    else fs.tree(src, posix.join(packageRoot, part), (_p, name) => name === 'node_modules');
  }
  if (statSync(o.addon.from).isDirectory()) fs.tree(o.addon.from, o.addon.to);
  else fs.file(o.addon.from, o.addon.to);
  // The bin entry must be executable; tsc does not set the mode.
  if (packageRoot !== GUEST_PROJECT) fs.add({ type: 'symlink', path: GUEST_PROJECT, target: packageRoot });
  fs.file(join(packageRoot, 'dist', 'cli.js'), join(packageRoot, 'dist', 'cli.js'), 0o755);
  fs.add({ type: 'symlink', path: '/usr/bin/devmap', target: `${GUEST_PROJECT}/dist/cli.js` });
  // ESM ignores NODE_PATH; a node_modules at / is on every lookup path below it.
  fs.add({ type: 'symlink', path: '/node_modules/devmap', target: GUEST_PROJECT });
  const deps = nodeModulesClosure(packageRoot, o.vitest ? GUEST_TIER_PACKAGES : []);
  for (const l of deps.links) fs.add({ type: 'symlink', ...l });
  for (const dir of deps.dirs) fs.tree(dir, dir, (_p, name) => name === 'node_modules');
  // Native bindings (ours, rolldown's, lightningcss's) need librt & co., which ldd of node does not list.
  // (A foreign guest's libraries come whole from its packages.)
  if (!o.userland) for (const e of [...fs.entries.values()]) {
    if (e.type === 'file' && e.from.endsWith('.node')) for (const lib of lddLibraries(e.from)) fs.hostLibrary(lib);
  }
}

/**
 * The host's node without its symbol tables, cached by the binary's path,
 * size and time: ~13 MB of a ~99 MB binary that the guest kernel would
 * otherwise copy out of the initramfs at every boot, for backtraces nobody
 * reads there.
 */
function strippedNode(node: string): string {
  const st = statSync(node);
  const out = join(cacheDir(), 'node', sha256(node, String(st.size), String(st.mtimeMs)).slice(0, 16), 'node');
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  run('strip', ['-o', `${out}.tmp-${process.pid}`, node]);
  renameSync(`${out}.tmp-${process.pid}`, out);
  return out;
}

function addNode(fs: FileSet, userland?: string): void {
  if (userland) return addUserland(fs, userland);
  const node = realpathSync(process.execPath);
  fs.file(strippedNode(node), '/usr/bin/node', 0o755);
  const libs = lddLibraries(node);
  for (const lib of libs) fs.hostLibrary(lib);
  // Debian's node (in libnode) names JavaScript it loads from /usr/share/nodejs.
  for (const bin of [node, ...libs.filter((l) => /\/libnode\.so/.test(l))]) {
    for (const js of externalizedBuiltins(readFileSync(bin))) if (existsSync(js)) fs.hostProgram(js);
  }
  // Host programs the guest specs call (fbset), installed by ensureHostTools.
  for (const p of GUEST_PROGRAMS) if (existsSync(p.file)) fs.hostProgram(p.file);
}

function addModules(fs: FileSet, kernel: GuestKernel, ours: BuiltModule[], arch: string): void {
  for (const m of Object.values(MACHINES).filter((m) => m.arch === arch)) {
    for (const ko of resolveModules(kernel.modules, m.debianModules)) fs.file(moduleFile(kernel.modules, ko), `/lib/modules/${kernel.abi}/kernel/${guestModulePath(ko)}`);
  }
  for (const ko of ours.flatMap((m) => m.kos)) fs.file(ko, posix.join(GUEST_KMODS, posix.basename(ko)));
  for (const m of ours) if (m.smoke) fs.file(m.smoke, guestSmoke(m), 0o755);
}

/** Where a module folder's C smoke test sits in the guest (its path is DEVMAP_<FOLDER>_SMOKE there). */
export function guestSmoke(m: BuiltModule): string {
  return posix.join(GUEST_KMODS, `${posix.basename(m.dir)}-smoke`);
}

/** Content hash of what the archive will hold: same hash, same bytes. */
function hashEntries(entries: CpioEntry[]): string {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(`${e.type}\0${e.path}\0${'mode' in e ? e.mode : ''}\0`);
    if (e.type === 'file') h.update(readFileSync(e.from));
    else if (e.type === 'data') h.update(e.data);
    else if (e.type === 'symlink') h.update(e.target);
    else if (e.type === 'char') h.update(`${e.major}:${e.minor}`);
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * Builds (or finds cached) the base initramfs of `arch`; returns its path.
 * One image is kept per arch, kernel suite, flavour (with vitest or not)
 * and package folder: two projects, or the test tier and `guest run`, do
 * not evict each other's.
 */
export function buildRootfs(kernel: GuestKernel, ours: BuiltModule[], arch: string, log: Log, o: RootfsOptions): string {
  const fs = new FileSet();
  for (const d of ['/proc', '/sys', '/dev', '/tmp', '/run', '/root', '/etc/devmap', '/mnt']) fs.add({ type: 'dir', path: d });
  // The kernel opens /dev/console for /init before devtmpfs is mounted.
  fs.add({ type: 'char', path: '/dev/console', major: 5, minor: 1 });
  fs.add({ type: 'data', path: '/etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' });
  fs.add({ type: 'data', path: '/etc/devmap/abi', data: kernel.abi + '\n' });
  fs.file(join(packageRoot, 'qemu', 'guest', 'init.sh'), '/init', 0o755);
  fs.file(join(packageRoot, 'qemu', 'guest', 'vitest-bridge.mjs'), '/etc/devmap/vitest-bridge.mjs');
  fs.file(join(packageRoot, 'qemu', 'guest', 'restored.sh'), '/etc/devmap/restored.sh', 0o755);
  addBusybox(fs, kernel.busybox, Boolean(o.userland));
  addNode(fs, o.userland);
  addModules(fs, kernel, ours, arch);
  addProject(fs, o);
  const entries = fs.sorted();
  const dir = join(cacheDir(), 'images');
  const kind = `${arch}-${kernel.suite}-${o.vitest ? 'tier' : 'run'}-${sha256(packageRoot).slice(0, 8)}`;
  const out = join(dir, `${kind}-${hashEntries(entries)}.cpio`);
  if (existsSync(out)) return out;
  log(`building the ${kind} guest root (${entries.length} files)`);
  mkdirSync(dir, { recursive: true });
  writeCpio(`${out}.tmp-${process.pid}`, entries);
  renameSync(`${out}.tmp-${process.pid}`, out);
  // One image of a kind is enough; older ones only fill the disk.
  // (A parallel process may still be booting an older one: it keeps its open file.)
  for (const f of readdirSync(dir)) if (f.startsWith(`${kind}-`) && f.endsWith('.cpio') && join(dir, f) !== out) rmSync(join(dir, f), { force: true });
  return out;
}
