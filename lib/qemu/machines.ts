// The guest machines, as data. A variant (a doorbell ivshmem, vesafb, ...)
// is one more entry here, never a copy of the runner. qemu/*.sh and
// `devmap guest run --machine NAME` both read this table.

/** A guest image flavour: one Debian architecture, one kernel. */
export interface GuestArch {
  /** Key in qemu/guest.lock.json. */
  key: string;
  debArch: string;
  qemu: string;
}

export const ARCHES: Record<string, GuestArch> = {
  x86_64: { key: 'x86_64', debArch: 'amd64', qemu: 'qemu-system-x86_64' },
};

export interface IvshmemPlain {
  /** Pinned PCI slot, so the guest finds it at 0000:00:<addr>.0. */
  addr: number;
  /** Default backing size in bytes; QEMU wants a power of two. */
  size: number;
}

export interface Machine {
  name: string;
  describe: string;
  arch: string;
  /** -M value. */
  machine: string;
  /** -cpu under KVM. */
  cpu: string;
  /**
   * -cpu under TCG. It needs RDRAND (without it Node's first start waits
   * seconds for the kernel RNG), but `max` costs ~1.5 s of boot under TCG
   * (5-level paging, AVX emulation): a plain model plus rdrand boots faster.
   */
  cpuTcg: string;
  memMiB: number;
  smp: number;
  /** Kernel command line beyond what the runner always adds (console, panic=-1). */
  kernelArgs: string[];
  /** Debian modules to insmod, by name; their dependencies are found and loaded first (lib/guest/kdeps.ts). */
  debianModules: string[];
  ivshmem?: IvshmemPlain;
  /**
   * PCI slot of a virtio-serial port named "devmap.host": guest tests ask
   * the host for what only it can see (screendump, the ivshmem file) there.
   */
  hostPort?: { addr: number };
  /** Further QEMU arguments (devices with pinned addresses). */
  args: string[];
}

/** bochs-drm: /dev/fb0 on -vga std (brings drm, drm_kms_helper, ttm and the helpers). */
const BOCHS_DRM = ['bochs'];

/** virtio-serial for the devmap.host port (brings the virtio PCI stack). */
const VIRTIO_SERIAL = ['virtio_pci', 'virtio_console'];

export const MACHINES: Record<string, Machine> = {
  x86_64: {
    name: 'x86_64',
    describe: 'QEMU pc, Debian amd64 kernel, -vga std (bochs-drm /dev/fb0), ivshmem-plain at 00:04.0, edu at 00:05.0, devmap.host port at 00:06.0',
    arch: 'x86_64',
    machine: 'pc',
    cpu: 'max',
    cpuTcg: 'Nehalem,+rdrand',
    memMiB: 1024,
    smp: 2,
    kernelArgs: [],
    debianModules: [...BOCHS_DRM, ...VIRTIO_SERIAL],
    ivshmem: { addr: 0x4, size: 4 << 20 },
    hostPort: { addr: 0x6 },
    args: ['-vga', 'std', '-device', 'edu,addr=0x5'],
  },
};

export const DEFAULT_MACHINE = 'x86_64';

export function machineNames(): string[] {
  return Object.keys(MACHINES);
}
