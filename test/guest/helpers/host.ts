// The guest's line to the host during a guest test run is devmap/vitest's
// (lib/vitest/host.ts); these are the specs' own helpers on top of it.
import { askHost, drmPciAddress, fbPciAddress, hostPort, screenshot } from '../../../lib/vitest/host.js';
import type { Image } from '../../../lib/fb/pixel.js';

export { askHost, drmPciAddress, fbPciAddress, hostPort };

/**
 * QEMU's screendump of the guest's display, taken by the host now, as RGBA:
 * of the display behind `fbPath` (by its PCI address), or QEMU's console 0.
 */
export async function hostScreendump(fbPath?: string): Promise<Image> {
  return screenshot(fbPath ? { fb: fbPath } : {});
}

/** QEMU's screendump of the display of the PCI device at `pci` (QEMU's console 0 when undefined), as RGBA. */
export async function hostScreendumpPci(pci: string | undefined): Promise<Image> {
  return screenshot(pci ? { pci } : {});
}

/**
 * The size of QEMU's screendump of the display at `pci` and the RGB of the
 * pixels at `points` (null outside it), read by the host: no PNG crosses the
 * port, for checks that need a few pixels of a large screen.
 */
export function hostScreenPoints(pci: string | undefined, points: [number, number][]): Promise<{ width: number; height: number; rgb: ([number, number, number] | null)[] }> {
  return askHost('screendump-points', { ...(pci ? { pci } : {}), points });
}

/** Counts the pixels where two RGBA images differ (alpha ignored); -1 if sizes differ. */
export function diffPixels(a: Image, b: Image): number {
  if (a.width !== b.width || a.height !== b.height) return -1;
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (a.data[i] !== b.data[i] || a.data[i + 1] !== b.data[i + 1] || a.data[i + 2] !== b.data[i + 2]) n++;
  }
  return n;
}

/**
 * The host's screendump of `fbPath`'s display scored by `diff` (0: as
 * wanted), taken again every 200 ms up to `tries` times while it is not 0:
 * DRM's fbdev emulation copies its shadow to VRAM in a worker that fsync only
 * schedules, and QEMU's display models redraw on their next refresh.
 */
export async function screenDiff(fbPath: string | undefined, diff: (shot: Image) => number, tries = 25): Promise<number> {
  let n = -1;
  for (let i = 0; i < tries && n !== 0; i++) {
    if (i) await new Promise((r) => setTimeout(r, 200));
    n = diff(await hostScreendump(fbPath));
  }
  return n;
}
