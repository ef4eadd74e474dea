// Rectangles and clipping for framebuffer drawing.
import { rangeError } from '../errors.js';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Checks that x, y are integers and w, h non-negative integers. */
export function checkRect(r: Rect): Rect {
  for (const k of ['x', 'y', 'w', 'h'] as const) {
    const v = r[k];
    if (!Number.isSafeInteger(v) || ((k === 'w' || k === 'h') && v < 0)) {
      throw rangeError(`${k} must be ${k === 'w' || k === 'h' ? 'a non-negative' : 'an'} integer, got ${v}`);
    }
  }
  return r;
}

/** The part of `r` inside [0, width) x [0, height), or null if none. */
export function clipRect(r: Rect, width: number, height: number): Rect | null {
  const x0 = Math.max(0, r.x);
  const y0 = Math.max(0, r.y);
  const x1 = Math.min(width, r.x + r.w);
  const y1 = Math.min(height, r.y + r.h);
  if (x1 <= x0 || y1 <= y0) return null;
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}
