// Guests of another architecture than the host (armhf on amd64): Node and
// its libraries from the arch's Debian packages (resolve.ts follows their
// Depends: host ldd cannot read a foreign ELF), busybox's applet list
// without running it, and the addon cross-built with cmake-js.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';

import { packageRoot } from '../../paths.js';
import { devmapError } from '../../errors.js';
import type { GuestArch } from '../machines/machines.js';
import { buildOnce, cacheDir, hashTree, run, sha256, type Log } from './cache.js';
import type { FileSet } from './files.js';

/** Folders of the unpacked packages that the guest never reads. */
const SKIP_DIRS = /^\/usr\/share\/(doc|man|lintian|locale|info|bug)(\/|$)/;

let hostArch: string | undefined;
export function hostDebArch(): string {
  hostArch ??= run('dpkg', ['--print-architecture']).trim();
  return hostArch;
}

export const isForeign = (a: GuestArch): boolean => a.debArch !== hostDebArch();

/** Unpacks the userland packages (cached by their versions) and returns the tree. */
export function unpackUserland(pkgs: Record<string, string>, debs: Record<string, string>, log: Log): string {
  const names = Object.keys(pkgs).sort();
  const key = sha256(...names.map((n) => `${n}=${pkgs[n]}`)).slice(0, 16);
  return buildOnce(join(cacheDir(), 'userland', key), (tmp) => {
    log(`unpacking the guest userland (${names.length} packages)`);
    for (const n of names) run('dpkg', ['-x', debs[n]!, tmp]);
  });
}

/** Adds an unpacked userland tree at / in the guest (docs and man pages left out). */
export function addUserland(fs: FileSet, tree: string): void {
  for (const top of readdirSync(tree)) {
    fs.tree(join(tree, top), `/${top}`, (p) => SKIP_DIRS.test(p.slice(tree.length)));
  }
  if (!existsSync(join(tree, 'usr', 'bin', 'node')) && !existsSync(join(tree, 'usr', 'bin', 'nodejs'))) {
    throw devmapError('ERR_DEVMAP_NODE', `the ${tree} userland has no usr/bin/node`);
  }
}

/**
 * busybox's applet names without running it (a foreign binary): the
 * NUL-separated list that starts with "[" and "[[" in the binary.
 */
export function busyboxApplets(busybox: string): string[] {
  const bin = readFileSync(busybox);
  const at = bin.indexOf(Buffer.from('[\0[[\0', 'latin1'));
  if (at < 0) throw devmapError('ERR_DEVMAP_BUSYBOX', `${busybox}: no applet list found`);
  const end = bin.indexOf(Buffer.from('\0\0', 'latin1'), at);
  return bin.subarray(at, end).toString('latin1').split('\0').filter((n) => /^[\w.[\]-]+$/.test(n));
}

/** The addon cross-built for `a` with cmake-js and the arch's toolchain file, cached by the sources' hash. */
export function crossAddon(a: GuestArch, log: Log): string {
  const cross = a.cross!;
  const toolchain = join(packageRoot, cross.cmakeToolchain);
  const key = sha256(hashTree(join(packageRoot, 'native', 'addon')), hashTree(join(packageRoot, 'native', 'CMakeLists.txt')), hashTree(toolchain)).slice(0, 16);
  const dir = buildOnce(join(cacheDir(), 'addon', `${a.key}-${key}`), (tmp) => {
    log(`cross-building the addon for ${a.key} (cmake-js, ${cross.prefix}g++)`);
    run(process.execPath, [join(packageRoot, 'scripts', 'build-addon.mjs'), '--cmake', '--out', tmp, `--CDCMAKE_TOOLCHAIN_FILE=${toolchain}`], { cwd: packageRoot });
  });
  return posix.join(dir, 'Release', 'devmap.node');
}
