// Builds every companion kernel module under native/kmod/*/ (any folder with
// a Kbuild or Makefile, so modules added later are picked up) against the
// guest kernel's headers. Each build happens in a copy inside the cache,
// keyed by the source's content hash and the ABI: the source tree stays
// clean and an unchanged module is never rebuilt. Which folders, for which
// arches, and the make arguments are lib/kmod's, which `devmap kmod` uses
// on a user's machine.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { devmapError } from '../../errors.js';
import { buildsFor, copyModuleSource, kernelGcc as headersGcc, moduleSources, modulesMakeArgs, orderedKos } from '../../kmod/index.js';
import { buildOnce, cacheDir, hashTree, run, sha256, type Log } from './cache.js';
import type { GuestArch } from '../machines/machines.js';
import { SUITES, type SuiteName } from '../machines/suites.js';
import { buildRoot, runInRoot } from './buildroot.js';
import { ensureHostTools, kbuildTools, type HostTool } from './hosttools.js';
import type { GuestKernel } from './kernel.js';

export interface BuiltModule {
  /** The native/kmod folder it came from. */
  dir: string;
  /** The .ko files, in the order `modules.order` lists them; empty if the build failed. */
  kos: string[];
  /** The folder's static `smoke` test program (`make smoke`), if it has one and it built. */
  smoke?: string;
  /** The compiler's complaint when it did not build. */
  error?: string;
}

/**
 * A module that does not compile is reported (error set) rather than thrown:
 * the guest still boots without it, and the test command counts it as a
 * failure. A folder's devmap.json may restrict it to some guest arches.
 */
export function buildModules(kernel: GuestKernel, log: Log, arch?: GuestArch): BuiltModule[] {
  return moduleSources().filter((src) => buildsFor(src, arch?.key)).map((src) => {
    const name = src.split('/').pop()!;
    const key = sha256(kernel.abi, hashTree(src), 'smoke', ...STRICT).slice(0, 16);
    try {
      const out = build(kernel, src, name, key, log, arch, true);
      const smoke = join(out, 'smoke');
      return { dir: src, kos: orderedKos(out), ...(existsSync(smoke) ? { smoke } : {}) };
    } catch (err) {
      const error = (err as Error).message;
      log(`kernel module ${name} failed to build; the guest boots without it:\n${error}`);
      return { dir: src, kos: [], error };
    }
  });
}

/**
 * A driver writer's own module folder (`devmap guest run --kmod DIR`):
 * built like ours (a cached copy, the guest kernel's headers, cross for
 * armhf), but a failure is an error that shows the compiler's complaint.
 * Returns the .ko files in modules.order order.
 */
export function buildUserModule(kernel: GuestKernel, dir: string, log: Log, arch?: GuestArch): string[] {
  const src = resolve(dir);
  if (!existsSync(src) || !statSync(src).isDirectory()) {
    throw devmapError('ERR_DEVMAP_KMOD', `--kmod ${dir}: no such folder; give the folder that holds your module's Kbuild (or Makefile) and sources`);
  }
  if (!['Kbuild', 'Makefile'].some((f) => existsSync(join(src, f)))) {
    throw devmapError('ERR_DEVMAP_KMOD', `--kmod ${dir}: no Kbuild or Makefile there; an out-of-tree module needs one, e.g. a Kbuild with "obj-m += mydriver.o"`);
  }
  const name = basename(src);
  let out: string;
  try {
    out = build(kernel, src, name, sha256(kernel.abi, hashTree(src), 'user').slice(0, 16), log, arch, false);
  } catch (err) {
    throw devmapError('ERR_DEVMAP_KMOD_BUILD', `--kmod ${dir}: the module did not build against the guest kernel ${kernel.abi}:\n${(err as Error).message}`);
  }
  const kos = orderedKos(out);
  if (kos.length === 0) throw devmapError('ERR_DEVMAP_KMOD', `--kmod ${dir}: the build made no .ko file; does the Kbuild name one with obj-m?`);
  return kos;
}

/** The host's Debian suite (VERSION_CODENAME of /etc/os-release). */
function hostSuite(): string | undefined {
  const text = existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '';
  return /^VERSION_CODENAME=(\S+)/m.exec(text)?.[1];
}

/** The gcc major the kernel was built with, from its headers' .config (CONFIG_GCC_VERSION=140200). */
const kernelGcc = (kernel: Pick<GuestKernel, 'headers'>): number => headersGcc(kernel.headers);

/** What the host needs to build modules for `kernel` itself (kernel of the host's suite). */
export function hostKbuildTools(kernel: Pick<GuestKernel, 'headers'>, arch?: GuestArch): HostTool[] {
  return kbuildTools(kernelGcc(kernel), arch?.cross?.prefix);
}

/**
 * Runs make for a module: on the host when the kernel is of the host's own
 * suite (its kbuild programs and compiler fit), otherwise in a build root of
 * the kernel's suite (a newer suite's kbuild needs a newer glibc, and its
 * headers name a compiler the host may not have), with the cache mounted at
 * the same path so every path stays valid.
 */
type Make = (args: string[], cwd: string, smoke?: { cross?: string }) => void;

function makeFor(kernel: GuestKernel, log: Log, arch: GuestArch | undefined): Make {
  if (kernel.suite === hostSuite()) {
    ensureHostTools(log, hostKbuildTools(kernel, arch));
    return (args, cwd, smoke) => void run('make', [...args, ...(smoke?.cross ? [`CC=${smoke.cross}gcc`] : [])], { cwd });
  }
  const gcc = kernelGcc(kernel);
  const root = buildRoot(SUITES[kernel.suite as SuiteName], gcc, log);
  // Module builds take the compiler the headers name; the smoke programs'
  // Makefile says $(CC), and the root has gcc only as gcc-N.
  return (args, cwd, smoke) => void runInRoot(root, ['make', ...args, ...(smoke ? [`CC=${smoke.cross ?? ''}gcc-${gcc}`] : [])], { cwd, binds: [cacheDir()] });
}

/**
 * Our own modules build with the kernel's extra warnings (W=1) as errors:
 * every kernel the harness builds for proves them warning-free, and a
 * warning fails the build before the boot with the compiler's words. A
 * driver writer's --kmod folder builds as kbuild builds it by default.
 */
const STRICT = ['W=1', 'KCFLAGS=-Werror'];

function build(kernel: GuestKernel, src: string, name: string, key: string, log: Log, arch: GuestArch | undefined, smoke: boolean): string {
  // Cross builds: the arch's compiler, the build machine's kbuild scripts (resolve.ts).
  const cross = [...(arch?.cross ? [`ARCH=${arch.cross.kernelArch}`, `CROSS_COMPILE=${arch.cross.prefix}`] : []), ...(smoke ? STRICT : [])];
  return buildOnce(join(cacheDir(), 'kmod', `${name}-${key}`), (tmp) => {
    copyModuleSource(src, tmp);
    log(`building kernel module ${name} against ${kernel.abi}`);
    const make = makeFor(kernel, log, arch);
    make(modulesMakeArgs(kernel.headers, tmp, cross), tmp);
    // The C smoke test of the module's ABI, static so it runs in the busybox guest.
    if (smoke && existsSync(join(tmp, 'Makefile')) && /^smoke:/m.test(readFileSync(join(tmp, 'Makefile'), 'utf8'))) make(['-C', tmp, `KDIR=${kernel.headers}`, 'smoke'], tmp, { cross: arch?.cross?.prefix });
  });
}
