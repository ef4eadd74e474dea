// Frames for a tear check: every pixel of frame k has one colour that
// encodes k, so a screen capture is either one whole frame (one colour,
// which names it) or torn (anything else). The guest spec that flips while
// the host takes screendumps and bench/drm-flip.mjs both use it.
import type { Image } from '../fb/pixel.js';
import type { Presenter } from './presenter.js';

/** The frame numbers a colour can name: k and k + FRAMES look the same. */
export const FRAMES = 1 << 16;

/** Frame k's colour as [r, g, b]: k's low byte in red, its high byte in green, blue the low byte's complement. */
export function frameColor(k: number): [number, number, number] {
  const n = ((k % FRAMES) + FRAMES) % FRAMES;
  return [n & 0xff, n >> 8, 0xff - (n & 0xff)];
}

/** The number (mod FRAMES) of the frame an RGBA image shows whole, or undefined if it is torn or not such a frame. */
export function wholeFrame(img: Image): number | undefined {
  const d = img.data;
  if (d.length < 4) return undefined;
  const [r, g, b] = [d[0]!, d[1]!, d[2]!];
  if (b !== 0xff - r) return undefined;
  for (let i = 4; i < d.length; i += 4) {
    if (d[i] !== r || d[i + 1] !== g || d[i + 2] !== b) return undefined;
  }
  return (g << 8) | r;
}

/**
 * Flips frame-numbered frames on `p` while `capture` (the host's screendump)
 * runs `shots` times, one after another; each capture leaves the loop free
 * to flip until it returns. Returns how many frames were flipped and what
 * each capture showed (a frame number, or undefined: torn).
 */
export async function flipWhileCapturing(p: Presenter, capture: () => Promise<Image>, shots: number): Promise<{ flipped: number; seen: (number | undefined)[] }> {
  let flipped = 0;
  p.back.clear(frameColor(flipped));
  await p.present(); // frame 0 is up before the first capture
  const seen: (number | undefined)[] = [];
  let done = false;
  const captures = (async () => {
    try {
      for (let i = 0; i < shots; i++) seen.push(wholeFrame(await capture()));
    } finally {
      done = true;
    }
  })();
  while (!done) {
    p.back.clear(frameColor(flipped + 1));
    await p.present();
    flipped++;
  }
  await captures;
  return { flipped, seen };
}
