// The companion kernel modules as source folders: which there are, which
// architectures each builds for, and how one is built out of tree (the make
// arguments, the copy it is built in, the order of what it made). `devmap
// kmod` and the guest harness (lib/harness/image/kmods.ts) both build them
// this way.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

import { devmapError } from '../errors.js';
import { packageRoot } from '../paths.js';

/** native/kmod/ of the installed package: one folder per module. */
export const KMOD_ROOT = join(packageRoot, 'native', 'kmod');

/** Every folder under `root` with a Kbuild or Makefile, so that modules added later are picked up. */
export function moduleSources(root = KMOD_ROOT): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && ['Kbuild', 'Makefile'].some((f) => existsSync(join(root, d.name, f))))
    .map((d) => join(root, d.name))
    .sort();
}

/**
 * The architectures (lib/harness/machines ARCHES keys: x86_64, armhf, arm64)
 * a folder builds for: its devmap.json's "arches", e.g. ["armhf"] for an
 * AMBA driver; undefined when it builds for all.
 */
export function moduleArches(src: string): string[] | undefined {
  const file = join(src, 'devmap.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { arches?: string[] }).arches;
}

/** Does the folder build for `arch` (an ARCHES key)? Any folder does when the arch is unknown. */
export function buildsFor(src: string, arch: string | undefined): boolean {
  const arches = moduleArches(src);
  return !arch || !arches || arches.includes(arch);
}

// Leftovers of a build in the source tree must not leak into a copy.
const BUILD_JUNK = /(\.o|\.ko|\.mod|\.mod\.c|\.cmd|Module\.symvers|modules\.order)$/;

/** Copies a module folder to `dest` (created), without build products. */
export function copyModuleSource(src: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  cpSync(src, dest, { recursive: true, filter: (p) => !BUILD_JUNK.test(p) });
}

/**
 * make arguments that build the module folder `dir` against the kernel
 * build tree `kdir`: kbuild's own form (-C KDIR M=DIR), plus KDIR for the
 * folder's Makefile. `extra`: ARCH=/CROSS_COMPILE= of a cross build.
 */
export function modulesMakeArgs(kdir: string, dir: string, extra: string[] = []): string[] {
  return ['-C', kdir, `M=${dir}`, `KDIR=${kdir}`, ...extra, 'modules'];
}

/** `make modules_install` of a built folder into INSTALL_MOD_PATH (default /) under lib/modules/RELEASE/<installDir>. */
export function installMakeArgs(kdir: string, dir: string, installDir: string, modPath?: string): string[] {
  return ['-C', kdir, `M=${dir}`, `KDIR=${kdir}`, `INSTALL_MOD_DIR=${installDir}`, ...(modPath ? [`INSTALL_MOD_PATH=${modPath}`] : []), 'modules_install'];
}

/** .ko files of a built folder in the order kbuild wrote to modules.order (dependency order within a folder). */
export function orderedKos(dir: string): string[] {
  const order = existsSync(join(dir, 'modules.order'))
    ? readFileSync(join(dir, 'modules.order'), 'utf8').split('\n').filter(Boolean).map((l) => basename(l).replace(/\.o$/, '.ko'))
    : [];
  const kos = readdirSync(dir).filter((f) => f.endsWith('.ko'));
  kos.sort((a, b) => (order.indexOf(a) + 1 || 1e9) - (order.indexOf(b) + 1 || 1e9) || a.localeCompare(b));
  return kos.map((f) => join(dir, f));
}

/**
 * The modules a folder's Kbuild makes (its obj-m lines, even those inside a
 * config guard): ['devmap_ivshmem'] for native/kmod/ivshmem.
 */
export function kbuildModules(src: string): string[] {
  const file = ['Kbuild', 'Makefile'].map((f) => join(src, f)).find((f) => existsSync(f));
  if (!file) return [];
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*obj-m\s*[:+]?=\s*(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/)).map((o) => o.replace(/\.o$/, ''));
}

/** ivshmem, devmap_ivshmem and devmap-ivshmem all name native/kmod/ivshmem. */
const folderName = (name: string): string => name.replace(/^devmap[-_]/, '');

/**
 * The module folders `names` pick (folder or module names), or, with none,
 * every folder that builds for `arch`. An unknown name, or one that does
 * not build for `arch`, is an error listing what there is.
 */
export function selectModules(names: string[], arch: string | undefined, all = moduleSources()): string[] {
  const available = (): string => all.map((s) => {
    const arches = moduleArches(s);
    return arches ? `${basename(s)} (${arches.join(', ')} only)` : basename(s);
  }).join(', ');
  if (!names.length) return all.filter((s) => buildsFor(s, arch));
  return [...new Set(names.map((n) => {
    const src = all.find((s) => basename(s) === folderName(n));
    if (!src) throw devmapError('ERR_DEVMAP_KMOD_NAME', `no companion module "${n}"; the modules are: ${available()}`);
    if (!buildsFor(src, arch)) throw devmapError('ERR_DEVMAP_KMOD_NAME', `${basename(src)} builds for ${moduleArches(src)!.join(', ')} only (its devmap.json), and this kernel is ${arch}`);
    return src;
  }))];
}
