// Guest architectures, as data: the Debian architecture, QEMU binary and
// kernel flavour of each, and what a cross build needs.

/** A guest image flavour: one Debian architecture, one kernel. */
export interface GuestArch {
  /** Key in qemu/guest.lock.json. */
  key: string;
  debArch: string;
  /** Node's process.arch there: the package's prebuilds/linux-<nodeArch>/ serves it. */
  nodeArch: 'x64' | 'arm' | 'arm64';
  qemu: string;
  /** linux-image-<flavour> names the archive's current kernel. */
  flavour: string;
  /**
   * How QEMU gets the kernel: 'pvh' extracts the uncompressed vmlinux from
   * the bzImage (x86); 'zimage' boots the package's kernel image as is
   * (armhf's zImage; arm64's vmlinuz, which Debian ships as the plain
   * Image with its EFI stub, 6.1 to 7.x).
   */
  boot: 'pvh' | 'zimage';
  /**
   * A guest of another architecture than the host: modules and the addon
   * are cross-built, and Node with its libraries comes from the arch's
   * Debian packages (lib/harness/image/foreign.ts) instead of the host's own.
   */
  cross?: {
    /** make ARCH= for kernel modules. */
    kernelArch: string;
    /** CROSS_COMPILE= prefix (Debian gcc-<triplet>). */
    prefix: string;
    /** CMake toolchain file for the addon (cmake-js), from the project root. */
    cmakeToolchain: string;
  };
  /** Host programs (and their Debian packages) this arch needs beyond lib/harness/image/hosttools.ts GUEST_TOOLS. */
  hostTools?: { cmd: string; pkg: string }[];
}

/**
 * What cross-building the addon for `prefix` (cmake-js with the toolchain
 * file) needs on the host; kernel modules take the compiler their headers
 * name instead (kbuildTools).
 */
function crossTools(prefix: string): { cmd: string; pkg: string }[] {
  const triplet = prefix.replace(/-$/, '');
  return [
    { cmd: `${prefix}gcc`, pkg: `gcc-${triplet}` },
    { cmd: `${prefix}g++`, pkg: `g++-${triplet}` },
    { cmd: 'cmake', pkg: 'cmake' },
  ];
}

export const ARCHES: Record<string, GuestArch> = {
  x86_64: { key: 'x86_64', debArch: 'amd64', nodeArch: 'x64', qemu: 'qemu-system-x86_64', flavour: 'amd64', boot: 'pvh' },
  armhf: {
    key: 'armhf',
    debArch: 'armhf',
    nodeArch: 'arm',
    qemu: 'qemu-system-arm',
    flavour: 'armmp',
    boot: 'zimage',
    cross: { kernelArch: 'arm', prefix: 'arm-linux-gnueabihf-', cmakeToolchain: 'native/toolchain-armhf.cmake' },
    hostTools: [{ cmd: 'qemu-system-arm', pkg: 'qemu-system-arm' }, { cmd: 'dtc', pkg: 'device-tree-compiler' }, ...crossTools('arm-linux-gnueabihf-')],
  },
  arm64: {
    key: 'arm64',
    debArch: 'arm64',
    nodeArch: 'arm64',
    qemu: 'qemu-system-aarch64',
    flavour: 'arm64',
    boot: 'zimage',
    cross: { kernelArch: 'arm64', prefix: 'aarch64-linux-gnu-', cmakeToolchain: 'native/toolchain-arm64.cmake' },
    hostTools: [{ cmd: 'qemu-system-aarch64', pkg: 'qemu-system-arm' }, ...crossTools('aarch64-linux-gnu-')],
  },
};
