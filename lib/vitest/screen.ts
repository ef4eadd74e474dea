// Comparing a screen with the picture expected on it: pixel-exact by
// default, or within a per-channel tolerance, over the whole picture or a
// region of it. A mismatch leaves the expected picture, the actual one and a
// diff (differing pixels red over a dimmed copy of the screen) as PNGs in
// the artifacts folder -- on the host when the spec runs in a devmap guest.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { devmapError } from '../errors.js';
import { decodePng, encodePng } from '../fb/png.js';
import type { Image } from '../fb/pixel.js';
import { askHost, hostPort } from './host.js';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ScreenMatchOptions {
  /** Where the expected picture's top-left corner is on the screen, [x, y]; default [0, 0]. */
  at?: readonly [number, number];
  /** Compare only this rectangle of the screen (inside the expected picture's place); default all of it. */
  region?: Rect;
  /** Largest difference allowed per channel (0-255, alpha ignored); default 0, pixel-exact. */
  tolerance?: number;
  /**
   * When the screen is given as a function (`() => screenshot()`): how long
   * to keep taking it while it does not match yet, in ms (default 5000) --
   * displays redraw on their own schedule (fbdev's deferred I/O, QEMU's refresh).
   */
  timeout?: number;
}

export interface ScreenDiff {
  /** The rectangle of the screen compared. */
  region: Rect;
  /** Pixels where some channel differs by more than the tolerance. */
  differing: number;
  /** The largest channel difference seen. */
  maxDelta: number;
  /** The first differing pixel, on the screen. */
  first?: [number, number];
}

const size = (i: { width: number; height: number }): string => `${i.width}x${i.height}`;

/** The largest difference of red, green and blue between the pixels at byte offsets `i` of `a` and `j` of `b` (alpha ignored). */
function delta(a: Uint8Array, i: number, b: Uint8Array, j: number): number {
  return Math.max(Math.abs(a[i]! - b[j]!), Math.abs(a[i + 1]! - b[j + 1]!), Math.abs(a[i + 2]! - b[j + 2]!));
}

/** Compares `screen` with `expected` placed at `at`; throws ERR_DEVMAP_SCREEN_SIZE when they cannot be laid over each other. */
export function compareScreen(screen: Image, expected: Image, o: ScreenMatchOptions = {}): ScreenDiff {
  const [ax, ay] = o.at ?? [0, 0];
  const tol = o.tolerance ?? 0;
  if (!Number.isInteger(tol) || tol < 0 || tol > 255) throw devmapError('ERR_DEVMAP_SCREEN_SIZE', `tolerance must be an integer 0-255, got ${tol}`);
  if (!Number.isInteger(ax) || !Number.isInteger(ay) || ax < 0 || ay < 0 || ax + expected.width > screen.width || ay + expected.height > screen.height) {
    throw devmapError('ERR_DEVMAP_SCREEN_SIZE', `the expected picture (${size(expected)}) at [${ax}, ${ay}] does not fit on the screen (${size(screen)})`);
  }
  const placed = { x: ax, y: ay, width: expected.width, height: expected.height };
  const r = o.region ?? placed;
  if (![r.x, r.y, r.width, r.height].every(Number.isInteger) || r.width <= 0 || r.height <= 0 || r.x < 0 || r.y < 0 || r.x + r.width > screen.width || r.y + r.height > screen.height) {
    throw devmapError('ERR_DEVMAP_SCREEN_SIZE', `region ${size(r)} at [${r.x}, ${r.y}] is not inside the screen (${size(screen)})`);
  }
  if (r.x < ax || r.y < ay || r.x + r.width > ax + expected.width || r.y + r.height > ay + expected.height) {
    throw devmapError('ERR_DEVMAP_SCREEN_SIZE', `region ${size(r)} at [${r.x}, ${r.y}] is not inside the expected picture (${size(expected)} at [${ax}, ${ay}])`);
  }
  let differing = 0;
  let maxDelta = 0;
  let first: [number, number] | undefined;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      const s = (y * screen.width + x) * 4;
      const e = ((y - ay) * expected.width + (x - ax)) * 4;
      const d = delta(screen.data, s, expected.data, e);
      if (d > maxDelta) maxDelta = d;
      if (d > tol) {
        differing++;
        first ??= [x, y];
      }
    }
  }
  return { region: r, differing, maxDelta, ...(first ? { first } : {}) };
}

/** The rectangle `r` of `img` (whose top-left sits at `at` on the screen). */
function crop(img: Image, r: Rect, at: readonly [number, number] = [0, 0]): Image {
  const data = new Uint8Array(r.width * r.height * 4);
  for (let y = 0; y < r.height; y++) {
    const from = ((r.y - at[1] + y) * img.width + (r.x - at[0])) * 4;
    data.set(img.data.subarray(from, from + r.width * 4), y * r.width * 4);
  }
  return { width: r.width, height: r.height, data };
}

/** Differing pixels red, the others the actual picture dimmed to a quarter. */
function diffImage(actual: Image, expected: Image, tol: number): Image {
  const data = new Uint8Array(actual.data.length);
  for (let i = 0; i < data.length; i += 4) {
    if (delta(actual.data, i, expected.data, i) > tol) data.set([255, 0, 0, 255], i);
    else data.set([actual.data[i]! >> 2, actual.data[i + 1]! >> 2, actual.data[i + 2]! >> 2, 255], i);
  }
  return { width: actual.width, height: actual.height, data };
}

/** Keeps `png` as artifact `name`: on the host (its path there) in a devmap guest, else in $DEVMAP_ARTIFACTS or ./artifacts. */
export async function saveArtifact(name: string, png: Uint8Array): Promise<string> {
  if (hostPort()) return (await askHost<{ path: string }>('artifact', { name, data: Buffer.from(png).toString('base64') })).path;
  const dir = resolve(process.env.DEVMAP_ARTIFACTS || 'artifacts', 'screens');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, png);
  return path;
}

/** The expected picture: an Image, PNG bytes, or a PNG file -- here, or else on the host (relative to the project root). */
export async function loadExpected(expected: Image | Uint8Array | string): Promise<Image> {
  if (typeof expected !== 'string') return expected instanceof Uint8Array ? decodePng(expected, 'the expected PNG') : expected;
  if (existsSync(expected) || !hostPort()) {
    if (!existsSync(expected)) throw devmapError('ERR_DEVMAP_SCREEN_FILE', `expected picture ${expected}: no such file`);
    return decodePng(readFileSync(expected), expected);
  }
  const { data } = await askHost<{ data: string }>('project-file', { path: expected });
  return decodePng(Buffer.from(data, 'base64'), expected);
}

/** A file name from a test's name: letters, digits, '-' and '_', at most 80. */
export function artifactName(test: string | undefined): string {
  return (test ?? 'screen').replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'screen';
}

export interface ScreenVerdict {
  pass: boolean;
  message: string;
}

let seq = 0;

/** A screen, or a function that takes it (polled until it matches or the timeout). */
export type ScreenSource = Image | (() => Image | Promise<Image>);

/** What toMatchScreen decides, and on a mismatch the artifacts it wrote and names. */
export async function matchScreen(source: ScreenSource, expected: Image | Uint8Array | string, o: ScreenMatchOptions, test?: string): Promise<ScreenVerdict> {
  const want = await loadExpected(expected);
  const take = typeof source === 'function' ? source : () => source;
  const until = Date.now() + (typeof source === 'function' ? (o.timeout ?? 5000) : 0);
  let screen = await take();
  let d = compareScreen(screen, want, o);
  while (d.differing > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    screen = await take();
    d = compareScreen(screen, want, o);
  }
  const what = `${size(d.region)} at [${d.region.x}, ${d.region.y}]`;
  if (d.differing === 0) return { pass: true, message: `the screen matches the expected picture in ${what}${o.tolerance ? ` within ${o.tolerance}` : ''}` };
  const base = `${artifactName(test)}-${++seq}`;
  const actual = crop(screen, d.region);
  const exp = crop(want, d.region, o.at ?? [0, 0]);
  const paths = [
    await saveArtifact(`${base}-expected.png`, encodePng(exp)),
    await saveArtifact(`${base}-actual.png`, encodePng(actual)),
    await saveArtifact(`${base}-diff.png`, encodePng(diffImage(actual, exp, o.tolerance ?? 0))),
  ];
  return {
    pass: false,
    message:
      `the screen differs from the expected picture in ${d.differing} of ${d.region.width * d.region.height} pixels of ${what}` +
      ` (largest channel difference ${d.maxDelta}, tolerance ${o.tolerance ?? 0}; first at [${d.first![0]}, ${d.first![1]}])\n` +
      `expected: ${paths[0]}\nactual:   ${paths[1]}\ndiff:     ${paths[2]}`,
  };
}
