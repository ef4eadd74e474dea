// What the DRM specs share: the card they test and the host's screendump
// of its display, compared again while QEMU catches up.
import type { Image } from '../../../lib/fb/pixel.js';
import { drmPciAddress, hostScreendumpPci } from './host.js';

export const CARD = '/dev/dri/card0';

/** The host's screendump of the card's display scored by `diff`, taken again every 200 ms while not 0 (QEMU redraws on its next refresh). */
export async function screenDiff(diff: (shot: Image) => number, tries = 10): Promise<number> {
  const pci = drmPciAddress(CARD);
  let n = -1;
  for (let i = 0; i < tries && n !== 0; i++) {
    if (i) await new Promise((r) => setTimeout(r, 200));
    n = diff(await hostScreendumpPci(pci));
  }
  return n;
}
