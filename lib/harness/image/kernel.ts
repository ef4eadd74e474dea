// Unpacks the guest kernel, its modules and headers, and busybox from the
// cached .debs (dpkg -x: nothing is installed into /), and extracts the
// uncompressed vmlinux for a PVH boot.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
import { buildOnce, cacheDir, run, sha256, type Log } from './cache.js';
import type { GuestArch } from '../machines/machines.js';
import type { GuestPackages } from './lock.js';

export interface GuestKernel {
  abi: string;
  /** The Debian suite it came from (modules for it are built in that suite's userland). */
  suite: string;
  /** Root of the unpacked packages (boot/, lib/modules/, usr/src/). */
  tree: string;
  /** Uncompressed ELF kernel with a PVH entry note: QEMU boots it directly. (ARM: the zImage itself.) */
  vmlinux: string;
  bzImage: string;
  /** Headers to build out-of-tree modules against (make -C). */
  headers: string;
  /** lib/modules/<abi>/kernel of the image. */
  modules: string;
  busybox: string;
  /** The package's device trees (usr/lib/linux-image-ABI/), on ARM. */
  dtbs: string;
}

/** How Debian compresses the bzImage payload: xz (with the x86 BCJ filter) through 6.1, zstd from 6.12. */
const PAYLOADS = [
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), tool: 'xz' },
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), tool: 'zstd' },
];

/** Decompresses the bzImage payload into an ELF. */
function extractVmlinux(bzImage: string, out: string): void {
  const image = readFileSync(bzImage);
  const found = PAYLOADS.map((p) => ({ ...p, at: image.indexOf(p.magic) })).filter((p) => p.at >= 0).sort((x, y) => x.at - y.at)[0];
  if (!found) throw devmapError('ERR_DEVMAP_KERNEL', `${bzImage}: no xz or zstd payload found`);
  // Both tools complain about what the kernel appends after the stream (its
  // size word); the ELF magic check below decides.
  const r = spawnSync(found.tool, ['-dc'], { input: image.subarray(found.at), maxBuffer: 1 << 30 });
  const elf = r.stdout;
  if (!elf || elf.length < 4 || elf.readUInt32BE(0) !== 0x7f454c46) {
    throw devmapError('ERR_DEVMAP_KERNEL', `${bzImage}: the ${found.tool} payload did not decompress to an ELF (${String(r.stderr).trim()})`);
  }
  writeFileSync(out, elf);
}

/**
 * Debian's headers Makefile names the common half (and from 7.x its own
 * output folder, KBUILD_OUTPUT=) by absolute /usr/src paths: point them at
 * the unpacked tree.
 */
function fixHeadersMakefile(headers: string, tree: string): void {
  const mk = join(headers, 'Makefile');
  const text = readFileSync(mk, 'utf8').replace(/^(include |KBUILD_OUTPUT=)\/usr\/src\//gm, `$1${tree}/usr/src/`);
  writeFileSync(mk, text);
}

/** The pinned packages that make up the kernel (image, modules, headers, kbuild...), by name. */
const kernelPackages = (pkgs: GuestPackages): string[] => Object.keys(pkgs.packages).filter((n) => /^linux-/.test(n)).sort();

/** Where the unpacked kernel keeps its files: 6.1 and 6.12 in /boot and /lib/modules, 7.x all in /usr/lib/modules/ABI. */
function layout(tree: string, abi: string): { vmlinuz: string; modules: string; dtbs: string } {
  const roots = [join(tree, 'lib', 'modules', abi), join(tree, 'usr', 'lib', 'modules', abi)].filter((d) => existsSync(join(d, 'kernel')));
  const first = (paths: string[], what: string): string => {
    const hit = paths.find((p) => existsSync(p));
    if (!hit) throw devmapError('ERR_DEVMAP_KERNEL', `the unpacked kernel ${abi} has no ${what} (looked for ${paths.join(', ')})`);
    return hit;
  };
  const modules = join(first(roots, 'lib/modules/ABI/kernel'), 'kernel');
  const vmlinuz = first([join(tree, 'boot', `vmlinuz-${abi}`), ...roots.map((d) => join(d, 'vmlinuz'))], 'vmlinuz');
  const dtbs = [join(tree, 'usr', 'lib', `linux-image-${abi}`), ...roots.map((d) => join(d, 'dtbs'))].find((p) => existsSync(p)) ?? join(tree, 'usr', 'lib', `linux-image-${abi}`);
  return { vmlinuz, modules, dtbs };
}

export function unpackKernel(pkgs: GuestPackages, debs: Record<string, string>, log: Log, arch: GuestArch, suite: string): GuestKernel {
  const zimage = arch.boot !== 'pvh';
  const kernelDebs = kernelPackages(pkgs);
  const key = sha256(...kernelDebs.map((n) => `${n}=${pkgs.packages[n]}`)).slice(0, 16);
  const dir = join(cacheDir(), 'kernel', `${pkgs.abi}-${key}`);
  const tree = join(dir, 'root');
  buildOnce(dir, (tmp) => {
    mkdirSync(tmp, { recursive: true });
    for (const n of kernelDebs) {
      log(`unpacking ${n}`);
      run('dpkg', ['-x', debs[n]!, join(tmp, 'root')]);
    }
    // The final path is baked into the Makefile, so fix it for `dir`, not `tmp`.
    fixHeadersMakefile(join(tmp, 'root', 'usr', 'src', `linux-headers-${pkgs.abi}`), tree);
    if (zimage) return; // QEMU boots an ARM kernel image as is
    log('extracting vmlinux for a PVH boot');
    extractVmlinux(layout(join(tmp, 'root'), pkgs.abi).vmlinuz, join(tmp, 'vmlinux'));
  });
  const bb = Object.keys(pkgs.packages).find((n) => n.startsWith('busybox-static'));
  if (!bb) throw devmapError('ERR_DEVMAP_LOCK', `the ${pkgs.abi} pin has no busybox-static; run "devmap guest lock --update"`);
  // Keyed by the qualified name too: amd64 and armhf share the version.
  const bbDir = buildOnce(join(cacheDir(), 'busybox', sha256(pkgs.packages[bb]!, bb).slice(0, 16)), (tmp) => {
    log(`unpacking ${bb}`);
    run('dpkg', ['-x', debs[bb]!, tmp]);
  });
  const { vmlinuz, modules, dtbs } = layout(tree, pkgs.abi);
  return {
    abi: pkgs.abi,
    suite,
    tree,
    vmlinux: zimage ? vmlinuz : join(dir, 'vmlinux'),
    bzImage: vmlinuz,
    headers: join(tree, 'usr', 'src', `linux-headers-${pkgs.abi}`),
    modules,
    // /bin through bookworm, /usr/bin from trixie's merged /usr on.
    busybox: [join(bbDir, 'usr', 'bin', 'busybox'), join(bbDir, 'bin', 'busybox')].find((p) => existsSync(p)) ?? join(bbDir, 'bin', 'busybox'),
    dtbs,
  };
}
