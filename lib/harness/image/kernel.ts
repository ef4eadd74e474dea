// Unpacks the guest kernel, its modules and headers, and busybox from the
// cached .debs (dpkg -x: nothing is installed into /), and extracts the
// uncompressed vmlinux for a PVH boot.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
import { buildOnce, cacheDir, run, sha256, type Log } from './cache.js';
import type { GuestArch } from '../machines/machines.js';
import { archPackageNames, packageNames, type GuestPackages } from './debian.js';

export interface GuestKernel {
  abi: string;
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

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Decompresses the bzImage payload (Debian: xz + x86 BCJ) into an ELF. */
function extractVmlinux(bzImage: string, out: string): void {
  const image = readFileSync(bzImage);
  const at = image.indexOf(XZ_MAGIC);
  if (at < 0) throw devmapError('ERR_DEVMAP_KERNEL', `${bzImage}: no xz payload found (is the kernel still xz-compressed?)`);
  // xz exits 1 over the size word the kernel appends after the stream; the
  // ELF magic check below decides.
  const r = spawnSync('xz', ['-dc'], { input: image.subarray(at), maxBuffer: 1 << 30 });
  const elf = r.stdout;
  if (!elf || elf.length < 4 || elf.readUInt32BE(0) !== 0x7f454c46) {
    throw devmapError('ERR_DEVMAP_KERNEL', `${bzImage}: the xz payload did not decompress to an ELF (${String(r.stderr).trim()})`);
  }
  writeFileSync(out, elf);
}

/** Debian's headers Makefile includes the common half by an absolute /usr/src path. */
function fixHeadersMakefile(headers: string, tree: string): void {
  const mk = join(headers, 'Makefile');
  const text = readFileSync(mk, 'utf8').replace(/^include \/usr\/src\//m, `include ${tree}/usr/src/`);
  writeFileSync(mk, text);
}

export function unpackKernel(pkgs: GuestPackages, debs: Record<string, string>, log: Log, arch?: GuestArch): GuestKernel {
  const zimage = arch?.boot === 'zimage';
  const names = arch ? archPackageNames(pkgs.abi, arch) : packageNames(pkgs.abi);
  const kernelDebs = [names.image, names.headers, names.common, names.kbuild];
  const key = sha256(...kernelDebs.map((n) => `${n}=${pkgs.packages[n]}`)).slice(0, 16);
  const dir = join(cacheDir(), 'kernel', `${pkgs.abi}-${key}`);
  buildOnce(dir, (tmp) => {
    mkdirSync(tmp, { recursive: true });
    const tree = join(tmp, 'root');
    for (const n of kernelDebs) {
      log(`unpacking ${n}`);
      run('dpkg', ['-x', debs[n]!, tree]);
    }
    // The final path is baked into the Makefile, so fix it for `dir`, not `tmp`.
    fixHeadersMakefile(join(tree, 'usr', 'src', `linux-headers-${pkgs.abi}`), join(dir, 'root'));
    if (zimage) return; // QEMU boots an ARM zImage as is
    log('extracting vmlinux for a PVH boot');
    extractVmlinux(join(tree, 'boot', `vmlinuz-${pkgs.abi}`), join(tmp, 'vmlinux'));
  });
  const bbVersion = pkgs.packages[names.busybox]!;
  // Keyed by the qualified name too: amd64 and armhf share the version.
  const bbDir = buildOnce(join(cacheDir(), 'busybox', sha256(bbVersion, ...(arch?.cross ? [names.busybox] : [])).slice(0, 16)), (tmp) => {
    log('unpacking busybox-static');
    run('dpkg', ['-x', debs[names.busybox]!, tmp]);
  });
  const tree = join(dir, 'root');
  return {
    abi: pkgs.abi,
    tree,
    vmlinux: zimage ? join(tree, 'boot', `vmlinuz-${pkgs.abi}`) : join(dir, 'vmlinux'),
    bzImage: join(tree, 'boot', `vmlinuz-${pkgs.abi}`),
    headers: join(tree, 'usr', 'src', `linux-headers-${pkgs.abi}`),
    modules: join(tree, 'lib', 'modules', pkgs.abi, 'kernel'),
    busybox: join(bbDir, 'bin', 'busybox'),
    dtbs: join(tree, 'usr', 'lib', `linux-image-${pkgs.abi}`),
  };
}
