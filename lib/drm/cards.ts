// The machine's DRM cards, in card-number order, with their kernel drivers:
// a caller picks a card by driver (virtio_gpu, bochs-drm) instead of
// trusting card0, whose number depends on which driver probed first.
import { readdirSync } from 'node:fs';

import { driverName } from './caps.js';
import { drmSys, type DrmSys } from './sys.js';

export interface DrmCard {
  /** /dev/dri/cardN */
  path: string;
  /** The kernel driver ('bochs-drm', 'virtio_gpu'): DRM_IOCTL_VERSION's name, else sysfs's. */
  driver: string | undefined;
}

/**
 * The DRM driver's own name for a card. sysfs's is not always it: virtio-gpu
 * hangs its card on the PCI device, whose driver is virtio-pci.
 */
function cardDriver(path: string, sys: DrmSys): string | undefined {
  let fd: number;
  try {
    fd = sys.open(path);
  } catch {
    return sys.driver(path);
  }
  try {
    return driverName((r, a) => sys.ioctl(fd, r, a), (b) => sys.address(b)) ?? sys.driver(path);
  } finally {
    sys.close(fd);
  }
}

export function listCards(sys: DrmSys = drmSys, dir = '/sys/class/drm'): DrmCard[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^card\d+$/.test(n));
  } catch {
    return []; // no DRM at all in this kernel
  }
  return names
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((n) => ({ path: `/dev/dri/${n}`, driver: cardDriver(`/dev/dri/${n}`, sys) }));
}
