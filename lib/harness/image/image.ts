// Everything a guest boot needs, built or found in the cache: host tools,
// the pinned Debian packages, the unpacked kernel, our kernel modules and
// the base initramfs. A second call with nothing changed downloads and
// rebuilds nothing.
import { ARCHES } from '../machines/machines.js';
import { findSuite } from '../machines/suites.js';
import { devmapError } from '../../errors.js';
import { stderrLog, type Log } from './cache.js';
import { fetchGuestPackages } from './debian.js';
import { guestAddon } from './addon.js';
import { isForeign, unpackUserland } from './foreign.js';
import { ensureHostTools } from './hosttools.js';
import { unpackKernel, type GuestKernel } from './kernel.js';
import { buildModules, type BuiltModule } from './kmods.js';
import { buildRootfs } from './rootfs.js';

export interface GuestImage {
  arch: string;
  /** The Debian suite the kernel came from. */
  suite: string;
  kernel: GuestKernel;
  modules: BuiltModule[];
  /** The base initramfs (uncompressed newc cpio). */
  initrd: string;
  /** Whether it carries vitest, for the guest tier. */
  vitest: boolean;
}

export interface ImageOptions {
  /** For the guest tier: bring vitest (an error if it is not installed). Default: without. */
  vitest?: boolean;
}

/** `suiteName`: the Debian suite of the guest kernel (default $DEVMAP_KERNEL, else machines/suites.ts DEFAULT_SUITE). */
export function prepareImage(arch = 'x86_64', log: Log = stderrLog, suiteName?: string, { vitest = false }: ImageOptions = {}): GuestImage {
  const suite = findSuite(suiteName);
  const a = ARCHES[arch];
  if (!a) throw devmapError('ERR_DEVMAP_ARCH', `no guest architecture "${arch}"; known: ${Object.keys(ARCHES).join(', ')}`);
  ensureHostTools(log);
  if (a.hostTools?.length) ensureHostTools(log, a.hostTools);
  const foreign = isForeign(a);
  const { pkgs, debs } = fetchGuestPackages({ suite, arch: a }, log);
  const kernel = unpackKernel(pkgs, debs, log, a, suite.name);
  const modules = buildModules(kernel, log, a);
  const broken = modules.filter((b) => b.error);
  if (broken.length) {
    // Fail before the boot: a guest without its module would only fail later, less clearly.
    const first = (e: string): string => e.split('\n').find((l) => /\berror\b/i.test(l) && !/^make/.test(l))?.trim() ?? e.split('\n')[0]!;
    const lines = broken.map((b) => `  ${b.dir.replace(/^.*\/native\//, 'native/')}: ${first(b.error!)}`);
    throw devmapError('ERR_DEVMAP_KMOD_BUILD', `companion module(s) do not build against ${suite.title}'s kernel ${kernel.abi} (${arch}):\n${lines.join('\n')}\n(the whole compiler output is above)`);
  }
  // A foreign guest gets Node from its own arch's packages.
  const userland = foreign ? unpackUserland(pkgs.userland ?? {}, debs, log) : undefined;
  const initrd = buildRootfs(kernel, modules, arch, log, { addon: guestAddon(a, log), userland, vitest });
  return { arch, suite: suite.name, kernel, modules, initrd, vitest };
}
