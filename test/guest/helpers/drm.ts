// What the DRM specs share: the cards they test (one per driver, found by
// driver name: card numbers depend on which driver probed first), the
// host's screendump of a card's display, compared again while QEMU catches
// up, and what the kernel holds for a card (debugfs), to check for leaks.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { listCards, type DrmCard } from '../../../lib/drm/cards.js';
import { drmSys } from '../../../lib/drm/sys.js';
import type { Image } from '../../../lib/fb/pixel.js';
import { drmPciAddress, hostScreendumpPci, hostScreenPoints } from './host.js';

/** The card the CLI specs use: the CLI's default. */
export const CARD = '/dev/dri/card0';

/** The first card of each driver, in card order (arm64-virt's second bochs card adds nothing to test). */
export function cardsByDriver(): DrmCard[] {
  const seen = new Set<string | undefined>();
  return listCards().filter((c) => !seen.has(c.driver) && seen.add(c.driver));
}

/** `diff` of what `take` returns, taken again every 200 ms while not 0 (QEMU redraws on its next refresh). */
async function untilSame<T>(take: () => Promise<T>, diff: (shot: T) => number, tries: number): Promise<number> {
  let n = -1;
  for (let i = 0; i < tries && n !== 0; i++) {
    if (i) await new Promise((r) => setTimeout(r, 200));
    n = diff(await take());
  }
  return n;
}

/** The host's screendump of `card`'s display scored by `diff` (0: as wanted), again while not 0. */
export function screenDiff(card: string, diff: (shot: Image) => number, tries = 10): Promise<number> {
  const pci = drmPciAddress(card);
  return untilSame(() => hostScreendumpPci(pci), diff, tries);
}

/** The same for a few pixels of the screendump, read by the host (large modes): `diff` gets its size and their RGB. */
export function screenPointsDiff(card: string, points: [number, number][], diff: (shot: Awaited<ReturnType<typeof hostScreenPoints>>) => number, tries = 10): Promise<number> {
  const pci = drmPciAddress(card);
  return untilSame(() => hostScreenPoints(pci, points), diff, tries);
}

/** The debugfs files that list what the kernel holds for a card: framebuffers, open files, flink names. */
const HELD = ['framebuffer', 'clients', 'gem_names'] as const;

/** Mounts debugfs if it is not (the guest's /init leaves it out); true if the card's folder is there. */
export function debugfsReady(card: string): boolean {
  if (!existsSync('/sys/kernel/debug/dri')) spawnSync('mount', ['-t', 'debugfs', 'debugfs', '/sys/kernel/debug']);
  return drmSys.debugfs(card, 'clients') !== undefined;
}

/** What the kernel holds for `card` now, file by file (the files this kernel has). */
export function heldByKernel(card: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of HELD) {
    const text = drmSys.debugfs(card, f);
    if (text !== undefined) out[f] = text;
  }
  return out;
}
