// Drawing into pixels in memory: a visible width x height window, at
// (xoffset, yoffset) of a buffer with `stride` bytes per line, in one pixel
// format. A framebuffer's mapping is one such buffer; any other mapped
// scan-out buffer with a stride and a format draws through the same code.
import { checkImage, parseColor, type Color, type Image, type PixelCodec } from './pixel.js';
import { checkRect, clipRect, type Rect } from './rect.js';

export interface Surface {
  /** The buffer's bytes (a mapping's view). */
  bytes: Uint8Array;
  codec: PixelCodec;
  width: number;
  height: number;
  /** Bytes from one line to the next (fbdev's line_length, a dumb buffer's pitch). */
  stride: number;
  xoffset: number;
  yoffset: number;
}

/** Byte offset of visible pixel (x, y). */
const at = (s: Surface, x: number, y: number): number => (y + s.yoffset) * s.stride + (x + s.xoffset) * s.codec.bytesPerPixel;

/** Fills a rectangle, clipped to the surface. Returns the part drawn (null if none). */
export function fillRect(s: Surface, x: number, y: number, w: number, h: number, color: Color): Rect | null {
  const rect = checkRect({ x, y, w, h });
  const rgb = parseColor(color); // also when nothing is inside: a bad colour is always an error
  const r = clipRect(rect, s.width, s.height);
  if (!r) return null;
  const row = s.codec.solid(rgb, r.w);
  for (let j = 0; j < r.h; j++) s.bytes.set(row, at(s, r.x, r.y + j));
  return r;
}

/**
 * Draws an RGBA image with its top-left corner at (x, y), clipped; alpha is
 * ignored (pixels are copied, not blended). Returns the rectangle drawn.
 */
export function putImage(s: Surface, x: number, y: number, image: Image): Rect | null {
  checkImage(image);
  const r = clipRect(checkRect({ x, y, w: image.width, h: image.height }), s.width, s.height);
  if (!r) return null;
  const row = new Uint8Array(r.w * s.codec.bytesPerPixel);
  for (let j = 0; j < r.h; j++) {
    s.codec.encode(image.data, ((r.y - y + j) * image.width + (r.x - x)) * 4, row, 0, r.w);
    s.bytes.set(row, at(s, r.x, r.y + j));
  }
  return r;
}

/** Reads back a rectangle (default: all of it), clipped, as RGBA. */
export function readImage(s: Surface, rect?: Partial<Rect>): Image {
  const want = { x: rect?.x ?? 0, y: rect?.y ?? 0, w: rect?.w ?? s.width, h: rect?.h ?? s.height };
  const r = clipRect(checkRect(want), s.width, s.height) ?? { x: 0, y: 0, w: 0, h: 0 };
  const data = new Uint8Array(r.w * r.h * 4);
  for (let j = 0; j < r.h; j++) s.codec.decode(s.bytes, at(s, r.x, r.y + j), data, j * r.w * 4, r.w);
  return { width: r.w, height: r.h, data };
}
