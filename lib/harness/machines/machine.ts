// What a machine definition says (machines.ts holds the definitions).
import type { GuestDevice } from './devices.js';

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
  /** Debian modules to insmod, by name; their dependencies are found and loaded first (lib/harness/image/kdeps.ts). */
  debianModules: string[];
  /** insmod arguments for a module, by module name (e.g. `{ devmap_edu: 'dma_bits=32' }`). */
  moduleParams?: Record<string, string>;
  ivshmem?: IvshmemPlain;
  /**
   * PCI slot of a virtio-serial port named "devmap.host": guest tests ask
   * the host for what only it can see (screendump, the ivshmem file) there.
   */
  hostPort?: { addr: number } | { mmio: true };
  /** Serial console (kernel console=); default ttyS0. */
  console?: string;
  /**
   * Where /init reports the exit status, away from the console: a second
   * UART (`serial`, default ttyS1), or (`virtio`) a "devmap.status"
   * virtio-serial port on the host-port bus, for boards with one UART.
   */
  status?: { serial: string } | { virtio: true };
  /** Device tree from the kernel package (usr/lib/linux-image-ABI/), given a fresh /chosen/rng-seed each boot. */
  dtb?: string;
  /** With DEVMAP_SPECS=full (npm run test:arm): the specs instead of `specs`, for machines whose default is a smoke set. */
  fullSpecs?: { include?: string[]; exclude?: string[] };
  /** Further QEMU arguments (devices with pinned addresses). */
  args: string[];
  /**
   * The devices the guest gets from the arguments above and the modules it
   * loads (test/host/guest-contracts.test.ts checks the list against the
   * QEMU command line). The guest sees it as DEVMAP_DEVICES.
   */
  devices: GuestDevice[];
  /**
   * Which kernel file QEMU boots. 'pvh' (default): the uncompressed vmlinux
   * through its PVH entry, fastest, but without real-mode setup, so no
   * `vga=` VESA mode. 'bzImage': the real-mode path, needed for vesafb.
   */
  kernelImage?: 'pvh' | 'bzImage';
  /**
   * 'bound' keeps fbcon on the framebuffer (a machine with a text console);
   * default: /init detaches it, since the harness's console is the serial port.
   */
  fbcon?: 'bound' | 'detached';
  /**
   * Several guests booted side by side, one QEMU each, named by role: each
   * runs the machine's specs with DEVMAP_GUEST_ROLE set. Peer ids are the
   * ivshmem server's to give (in connection order): specs exchange them in
   * shared memory, never assume them.
   * Default: one guest, no role.
   */
  guests?: string[];
  /**
   * An ivshmem-doorbell device in this slot, connected to a devmap ivshmem
   * server that the harness starts before the guests and stops after them
   * (lib/harness/session/session.ts). `size` must be a power of two.
   */
  ivshmemServer?: { addr: number; vectors: number; size: number };
  /** False for boards without PCI (no ivshmem, edu or a doorbell device can be added). */
  pci?: boolean;
  /** Which test/guest specs run here (globs from the project root); default: all of test/guest/**. */
  specs?: { include?: string[]; exclude?: string[] };
}
