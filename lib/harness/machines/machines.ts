// The guest machines, as data. A variant (a doorbell ivshmem, vesafb, ...)
// is one more entry here, never a copy of the runner. qemu/*.sh and
// `devmap guest run --machine NAME` both read this table.
import { devmapError } from '../../errors.js';

import type { Machine } from './machine.js';

export { ARCHES, type GuestArch } from './arches.js';
export { GUEST_DEVICES, type GuestDevice } from './devices.js';
export type { IvshmemPlain, Machine } from './machine.js';


/** bochs-drm: /dev/fb0 on -vga std (brings drm, drm_kms_helper, ttm and the helpers). */
const BOCHS_DRM = ['bochs'];

/** virtio-serial for the devmap.host port (brings the virtio PCI stack). */
const VIRTIO_SERIAL = ['virtio_pci', 'virtio_console'];

/**
 * A virtio-gpu beside bochs-display on the ARM virt machines: a second KMS
 * driver there. Its module loads after bochs, so the bochs cards and fb0/fb1
 * keep their numbers and virtio-gpu takes the next card (the DRM specs find
 * it by driver). Its QEMU id lets the host screendump it.
 */
const ARM_VIRTIO_GPU = { module: 'virtio_gpu', args: ['-device', 'virtio-gpu-pci,id=devmap-gpu,addr=0x3'] };

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
    // A second bochs-drm framebuffer (/dev/fb1) at another resolution, for no
    // extra boot; its QEMU id lets the host screendump it (hostport.ts).
    args: ['-vga', 'std', '-device', 'edu,addr=0x5', '-device', 'bochs-display,id=devmap-display1,addr=0x8,xres=1024,yres=768'],
    devices: ['ivshmem', 'edu', 'fb0', 'fb1', 'drm'],
    // They need an ivshmem server and two guests: x86_64-doorbell-pair runs them.
    specs: { exclude: ['test/guest/ivshmem-doorbell*.test.ts'] },
  },
};

/**
 * vesafb variants: the bzImage's real-mode setup asks SeaBIOS's VGA BIOS for
 * a VESA mode (`vga=`; a PVH boot skips that code), and the built-in vesafb
 * maps the -vga std BAR itself: device MMIO in Node. No bochs module (it
 * would take the device over and remove vesafb), no second display. Only the
 * framebuffer spec (and basic) runs: each variant costs one boot.
 */
function vesaVariant(name: string, describe: string, vga: string, more: Partial<Machine> = {}): Machine {
  return {
    ...MACHINES.x86_64!, name, describe, kernelImage: 'bzImage', kernelArgs: [`vga=${vga}`],
    debianModules: [...VIRTIO_SERIAL], args: ['-vga', 'std'],
    devices: ['ivshmem', 'fb0'],
    specs: { include: ['test/guest/basic.test.ts', 'test/guest/framebuffer*.test.ts'] },
    ...more,
  };
}

MACHINES['x86_64-vesa32'] = vesaVariant(
  'x86_64-vesa32',
  'x86_64, bzImage boot, vesafb 1024x768x32 (vga=0x344) on the -vga std BAR, fbcon left bound (a text console), devmap.host port',
  '0x344',
  { fbcon: 'bound', devices: ['ivshmem', 'fb0', 'fbcon'] },
);
MACHINES['x86_64-vesa24'] = vesaVariant(
  'x86_64-vesa24',
  'x86_64, bzImage boot, vesafb 1024x768x24 packed RGB888 (vga=0x318) on the -vga std BAR, devmap.host port',
  '0x318',
);

/**
 * virtio-gpu instead of the std VGA: the DRM specs on a second KMS driver
 * (buffers in guest RAM, flushed to the host by DIRTYFB and flips). No VGA,
 * so virtio-gpu is QEMU's console 0 and card0. Only basic and the DRM
 * specs run: one more boot.
 */
MACHINES['x86_64-virtio-gpu'] = {
  ...MACHINES.x86_64!,
  name: 'x86_64-virtio-gpu',
  describe: 'x86_64 with -vga none and virtio-gpu-pci at 00:02.0 (virtio_gpu /dev/dri/card0, /dev/fb0), ivshmem-plain at 00:04.0, devmap.host port at 00:06.0',
  debianModules: [...VIRTIO_SERIAL, 'virtio_gpu'],
  args: ['-vga', 'none', '-device', 'virtio-gpu-pci,addr=0x2'],
  devices: ['ivshmem', 'fb0', 'drm', 'virtio-gpu'],
  specs: { include: ['test/guest/basic.test.ts', 'test/guest/drm.test.ts'] },
};

/**
 * Two small guests on one devmap ivshmem server (the host is a third peer):
 * doorbells and messages between guests. Only the doorbell specs run here;
 * one vCPU each, since the two share the host's cores.
 */
MACHINES['x86_64-doorbell-pair'] = {
  ...MACHINES.x86_64!,
  name: 'x86_64-doorbell-pair',
  describe: 'two QEMU pc guests (ping, pong), 512 MiB, 1 vCPU, ivshmem-doorbell (2 vectors, 1 MiB) at 00:07.0 on a devmap ivshmem server, devmap.host port at 00:06.0',
  memMiB: 512,
  smp: 1,
  debianModules: [...VIRTIO_SERIAL],
  ivshmem: undefined,
  args: [],
  devices: ['doorbell'],
  guests: ['ping', 'pong'],
  ivshmemServer: { addr: 0x7, vectors: 2, size: 1 << 20 },
  specs: { include: ['test/guest/ivshmem-doorbell*.test.ts'] },
};

/**
 * ARM (armhf) guests: Debian's armmp kernel, Node 18 and busybox from the
 * armhf archive, modules and addon cross-built (docs/arm.md). TCG only,
 * one vCPU (faster than two on a 2-core host). `npm test` runs a smoke set
 * (one boot each); `npm run test:arm` (DEVMAP_SPECS=full) runs the rest.
 */
const ARM_FULL_SPECS = { exclude: ['test/guest/ivshmem-doorbell*.test.ts'] };

/**
 * Versatile Express A9: no PCI. The PL111 CLCD is the framebuffer, driven by
 * our devmap_clcd (armmp's built-in CLCD driver does not probe here); the
 * devmap.host and vitest ports are virtio-serial on the board's virtio-mmio
 * transports (QEMU adds their nodes to the dtb); the exit status goes to
 * the second PL011.
 */
MACHINES['armhf-vexpress'] = {
  name: 'armhf-vexpress',
  describe: 'QEMU vexpress-a9 (Cortex-A9, 1 GiB, no PCI), Debian armmp kernel, PL111 CLCD /dev/fb0 from devmap_clcd (dma_alloc_wc), devmap.host port on virtio-mmio',
  arch: 'armhf',
  machine: 'vexpress-a9',
  cpu: 'cortex-a9',
  cpuTcg: 'cortex-a9',
  memMiB: 1024,
  smp: 1,
  kernelArgs: [],
  debianModules: ['virtio_mmio', 'virtio_console'],
  hostPort: { mmio: true },
  console: 'ttyAMA0',
  status: { serial: 'ttyAMA1' },
  dtb: 'vexpress-v2p-ca9.dtb',
  pci: false,
  args: [],
  devices: ['fb0', 'clcd'],
  specs: { include: ['test/guest/framebuffer.test.ts', 'test/guest/clcd.test.ts'] },
  fullSpecs: ARM_FULL_SPECS,
};

/**
 * QEMU virt (Cortex-A15, highmem off: a 32-bit kernel reaches every BAR):
 * PCI like x86_64 -- bochs-display (bochs-drm /dev/fb0), virtio-gpu,
 * ivshmem-plain, edu, virtio-serial. One PL011 only, so the exit status takes a
 * virtio-serial port. QEMU puts its own rng-seed in the generated dtb.
 */
MACHINES['armhf-virt'] = {
  name: 'armhf-virt',
  describe: 'QEMU virt (Cortex-A15, 1 GiB, highmem=off), Debian armmp kernel, bochs-display (bochs-drm /dev/fb0) at 00:02.0, virtio-gpu-pci (virtio_gpu, the next DRM card) at 00:03.0, ivshmem-plain at 00:04.0, edu at 00:05.0, devmap.host port at 00:06.0',
  arch: 'armhf',
  machine: 'virt,highmem=off',
  cpu: 'cortex-a15',
  cpuTcg: 'cortex-a15',
  memMiB: 1024,
  smp: 1,
  kernelArgs: [],
  debianModules: [...BOCHS_DRM, ...VIRTIO_SERIAL, ARM_VIRTIO_GPU.module],
  ivshmem: { addr: 0x4, size: 4 << 20 },
  hostPort: { addr: 0x6 },
  console: 'ttyAMA0',
  status: { virtio: true },
  // virt has no RAM below 1 GiB: edu's default 28-bit DMA mask reaches none of it.
  moduleParams: { devmap_edu: 'dma_bits=32' },
  args: ['-device', 'bochs-display,addr=0x2', '-device', 'edu,addr=0x5,dma_mask=0xffffffff', ...ARM_VIRTIO_GPU.args],
  // fb1: virtio-gpu's fbdev emulation.
  devices: ['ivshmem', 'edu', 'fb0', 'fb1', 'drm', 'virtio-gpu'],
  specs: { include: ['test/guest/basic.test.ts'] },
  fullSpecs: ARM_FULL_SPECS,
};

/**
 * QEMU virt for arm64: armhf-virt's PCI devices on a 64-bit kernel (no
 * highmem=off; BARs may sit above 4 GiB). RAM starts at 1 GiB here too, so
 * edu keeps the 32-bit DMA mask.
 */
MACHINES['arm64-virt'] = {
  ...MACHINES['armhf-virt']!,
  name: 'arm64-virt',
  describe: 'QEMU virt (Cortex-A72 under TCG, 1 GiB), Debian arm64 kernel, bochs-display (bochs-drm /dev/fb0) at 00:02.0 and (/dev/fb1, 1024x768) at 00:08.0, virtio-gpu-pci (virtio_gpu, the third DRM card) at 00:03.0, ivshmem-plain at 00:04.0, edu at 00:05.0, devmap.host port at 00:06.0',
  arch: 'arm64',
  machine: 'virt',
  cpu: 'max',
  // Booting to the first command took 19-25 s with max (QEMU 7.2 TCG emulates
  // its pointer authentication, QARMA, in software), 5.2 s with
  // max,pauth-impdef=on or pauth=off (SVE and the rest still cost), 3.4 s
  // with cortex-a72, whose lack of RNDR does not matter: virt's dtb seeds the RNG.
  cpuTcg: 'cortex-a72',
  // A second bochs-display (/dev/fb1) at another resolution, like x86_64's;
  // virtio-gpu's fbdev emulation comes after it (/dev/fb2).
  args: [...MACHINES['armhf-virt']!.args, '-device', 'bochs-display,id=devmap-display1,addr=0x8,xres=1024,yres=768'],
  devices: ['ivshmem', 'edu', 'fb0', 'fb1', 'drm', 'virtio-gpu'],
};

export const DEFAULT_MACHINE = 'x86_64';

export function machineNames(): string[] {
  return Object.keys(MACHINES);
}

/** The machine called `name`; an unknown name is an error listing the known ones. */
export function findMachine(name = DEFAULT_MACHINE): Machine {
  const m = MACHINES[name];
  if (!m) throw devmapError('ERR_DEVMAP_MACHINE', `no machine "${name}"; known: ${Object.keys(MACHINES).join(', ')}`);
  return m;
}
