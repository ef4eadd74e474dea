// Host programs the guest harness needs, and the Debian packages that carry
// them. Missing ones are installed with apt-get when we are root; otherwise
// the error names the exact command to run.
import { existsSync } from 'node:fs';

import { devmapError } from '../../errors.js';
import { aptGetUpdate, haveCommand, run, type Log } from './cache.js';

export interface HostTool {
  /** A command on PATH, or (`file`) a file the package installs. */
  cmd?: string;
  file?: string;
  pkg: string;
}

/** Everything `devmap guest` uses on the host, besides Node itself. */
export const GUEST_TOOLS: HostTool[] = [
  { cmd: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
  { cmd: 'apt-get', pkg: 'apt' },
  { cmd: 'dpkg', pkg: 'dpkg' },
  { cmd: 'ldd', pkg: 'libc-bin' },
  // The kernel's payload: xz with the x86 BCJ filter (busybox lacks it) through 6.1, zstd from 6.12;
  // 6.12 on also ship their modules as .ko.xz.
  { cmd: 'xz', pkg: 'xz-utils' },
  { cmd: 'zstd', pkg: 'zstd' },
  // Kernel modules: the compiler is the guest kernel's (kbuildTools), not the host's.
  { cmd: 'make', pkg: 'make' },
  // The guest's node loses its symbol tables (rootfs.ts).
  { cmd: 'strip', pkg: 'binutils' },
];

/**
 * What building modules on the host itself needs (a kernel of the host's
 * own suite: lib/harness/image/kmods.ts), for a kernel built with
 * gcc-`gcc`: make, pahole (6.12's kbuild runs it on every module for BTF;
 * linux-kbuild depends on it), the compiler its headers name (Debian's
 * .kernelvariables: `$(CROSS_COMPILE)gcc-N`), and the unversioned one the
 * static smoke programs use. `cross`: the CROSS_COMPILE prefix of a foreign guest.
 */
export function kbuildTools(gcc: number, cross?: string): HostTool[] {
  const common = [{ cmd: 'make', pkg: 'make' }, { cmd: 'pahole', pkg: 'pahole' }];
  if (!cross) return [...common, { cmd: `gcc-${gcc}`, pkg: `gcc-${gcc}` }, { cmd: 'cc', pkg: 'gcc' }];
  const triplet = cross.replace(/-$/, '');
  return [...common, { cmd: `${cross}gcc-${gcc}`, pkg: `gcc-${gcc}-${triplet}` }, { cmd: `${cross}gcc`, pkg: `gcc-${triplet}` }];
}

/**
 * Host programs the guest tier's specs run inside the guest (with their
 * libraries, at the same paths: lib/harness/image/rootfs.ts). fbset checks the
 * geometry devmap decodes (test/guest/framebuffer.test.ts).
 */
export const GUEST_PROGRAMS: (HostTool & { file: string })[] = [{ file: '/bin/fbset', pkg: 'fbset' }];

/** Debian's archive keyring, which private apt configurations (apt.ts) and build roots trust. */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** What a private apt configuration per Debian suite uses (apt.ts). */
export const SUITE_APT_TOOLS: HostTool[] = [
  { cmd: 'apt-get', pkg: 'apt' },
  { cmd: 'flock', pkg: 'util-linux' },
  { file: DEBIAN_KEYRING, pkg: 'debian-archive-keyring' },
];

/**
 * What build roots use (buildroot.ts): mmdebstrap makes them in one apt run
 * and takes apt options; unshare (a private mount namespace) and chroot
 * run commands inside them.
 */
export const BUILD_ROOT_TOOLS: HostTool[] = [
  ...SUITE_APT_TOOLS,
  { cmd: 'mmdebstrap', pkg: 'mmdebstrap' },
  { cmd: 'unshare', pkg: 'util-linux' },
  { cmd: 'mount', pkg: 'mount' },
  { cmd: 'chroot', pkg: 'coreutils' },
];

export function missingTools(tools: HostTool[] = GUEST_TOOLS): HostTool[] {
  return tools.filter((t) => (t.cmd ? !haveCommand(t.cmd) : !existsSync(t.file!)));
}

export function installCommand(pkgs: string[]): string {
  return `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

/** Installs what is missing (as root), or throws saying what to run. */
export function ensureHostTools(log: Log, tools: HostTool[] = [...GUEST_TOOLS, ...GUEST_PROGRAMS]): void {
  const missing = missingTools(tools);
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  const names = missing.map((t) => t.cmd ?? t.file).join(', ');
  if (process.getuid?.() !== 0 || !haveCommand('apt-get')) {
    throw devmapError('ERR_DEVMAP_HOST_TOOLS', `missing host tools: ${names}. Install them with:\n  sudo ${installCommand(pkgs)}`);
  }
  log(`installing ${pkgs.join(' ')} (missing: ${names})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  aptGetUpdate(log);
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs], { env });
  const still = missingTools(missing);
  if (still.length) throw devmapError('ERR_DEVMAP_HOST_TOOLS', `still missing after apt-get install: ${still.map((t) => t.cmd ?? t.file).join(', ')}`);
}
