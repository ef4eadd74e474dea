// The machine's DRM cards, in card-number order, with their kernel drivers
// as sysfs names them: a caller picks a card by driver (virtio_gpu,
// bochs-drm) instead of trusting card0, whose number depends on which
// driver probed first.
import { readdirSync } from 'node:fs';

import { drmSys, type DrmSys } from './sys.js';

export interface DrmCard {
  /** /dev/dri/cardN */
  path: string;
  /** The kernel driver bound to the card's device ('bochs-drm', 'virtio_gpu'), if sysfs tells. */
  driver: string | undefined;
}

export function listCards(sys: Pick<DrmSys, 'driver'> = drmSys, dir = '/sys/class/drm'): DrmCard[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^card\d+$/.test(n));
  } catch {
    return []; // no DRM at all in this kernel
  }
  return names
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((n) => ({ path: `/dev/dri/${n}`, driver: sys.driver(`/dev/dri/${n}`) }));
}
