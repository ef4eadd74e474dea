// Text as an RGBA image, rendered by pureimage (a pure-JS canvas: no native
// code, so it runs in every guest architecture) from a TrueType font file.
import * as PImage from 'pureimage';

import { devmapError } from '../errors.js';
import type { Image } from '../fb/pixel.js';

/** Debian's fonts-dejavu-core: present on the host, brought into guests. */
export const DEFAULT_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf';

const loaded = new Set<string>();

export interface TextOptions {
  font?: string;
  sizePx?: number;
  color?: string;
  background?: string;
  padding?: number;
}

/** Renders one line of text on a solid background. */
export function renderText(text: string, o: TextOptions = {}): Image {
  const font = o.font ?? DEFAULT_FONT;
  const size = o.sizePx ?? 24;
  const pad = o.padding ?? Math.round(size / 4);
  if (!loaded.has(font)) {
    try {
      PImage.registerFont(font, font).loadSync();
    } catch (err) {
      throw devmapError('ERR_DEVMAP_FONT', `cannot load the font ${font} (${(err as Error).message}); on Debian: apt-get install fonts-dejavu-core`);
    }
    loaded.add(font);
  }
  const measure = PImage.make(1, 1).getContext('2d');
  measure.font = `${size}px '${font}'`;
  const width = Math.max(1, Math.ceil(measure.measureText(text).width) + 2 * pad);
  const height = Math.ceil(size * 1.3) + 2 * pad;
  const img = PImage.make(width, height);
  const ctx = img.getContext('2d');
  ctx.fillStyle = o.background ?? '#000000';
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = o.color ?? '#ffffff';
  ctx.font = `${size}px '${font}'`;
  ctx.fillText(text, pad, pad + size);
  return { width, height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.length) };
}
