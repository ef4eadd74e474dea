// devmap/vitest's screen matcher on the host: the same code a guest spec
// runs, with artifacts kept in $DEVMAP_ARTIFACTS (no devmap.host port here).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { compareScreen } from '../../lib/vitest/index.js';
import { decodePng, encodePng } from '../../lib/fb/png.js';
import type { Image } from '../../lib/fb/pixel.js';

function image(width: number, height: number, rgb: (x: number, y: number) => [number, number, number]): Image {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([...rgb(x, y), 255], (y * width + x) * 4);
  return { width, height, data };
}

const screen = image(64, 48, (x, y) => (x >= 10 && x < 30 && y >= 5 && y < 15 ? [200, 40, 40] : [0, 0, 80]));
const box = image(20, 10, () => [200, 40, 40]);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'devmap-screen-'));
  process.env.DEVMAP_ARTIFACTS = dir;
});
afterAll(() => {
  delete process.env.DEVMAP_ARTIFACTS;
  rmSync(dir, { recursive: true, force: true });
});

describe('toMatchScreen', () => {
  it('passes where the picture is, from an Image, PNG bytes or a PNG file', async () => {
    await expect(screen).toMatchScreen(box, { at: [10, 5] });
    await expect(screen).toMatchScreen(encodePng(box), { at: [10, 5] });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'box.png'), encodePng(box));
    await expect(screen).toMatchScreen(join(dir, 'box.png'), { at: [10, 5] });
    await expect(screen).not.toMatchScreen(box, { at: [11, 5] });
  });

  it('honours the tolerance per channel and compares only the region', async () => {
    const near = image(20, 10, () => [203, 38, 40]);
    await expect(screen).not.toMatchScreen(near, { at: [10, 5] });
    await expect(screen).toMatchScreen(near, { at: [10, 5], tolerance: 3 });
    const half = image(20, 10, (x) => (x < 10 ? [200, 40, 40] : [1, 2, 3]));
    await expect(screen).toMatchScreen(half, { at: [10, 5], region: { x: 10, y: 5, width: 10, height: 10 } });
    expect(compareScreen(screen, half, { at: [10, 5] })).toMatchObject({ differing: 100, maxDelta: 199, first: [20, 5] });
  });

  it('on a mismatch writes expected, actual and diff PNGs and names them', async () => {
    const wrong = image(20, 10, (x) => (x === 3 ? [0, 255, 0] : [200, 40, 40]));
    const err = await expect(screen).toMatchScreen(wrong, { at: [10, 5] }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/differs from the expected picture in 10 of 200 pixels of 20x10 at \[10, 5\].*first at \[13, 5\]/);
    const paths = [...err!.message.matchAll(/^(?:expected|actual|diff): +(\S+)$/gm)].map((m) => m[1]!);
    expect(paths).toHaveLength(3);
    for (const p of paths) expect(existsSync(p) && p.startsWith(join(dir, 'screens'))).toBe(true);
    const [exp, act, diff] = paths.map((p) => decodePng(readFileSync(p)));
    expect(exp).toEqual(wrong);
    expect(act).toEqual(box);
    expect([...diff!.data.subarray(3 * 4, 3 * 4 + 4)]).toEqual([255, 0, 0, 255]);
    expect([...diff!.data.subarray(0, 4)]).toEqual([50, 10, 10, 255]);
  });

  it('a function as the screen is taken again until it matches, or the timeout', async () => {
    let calls = 0;
    const blank = image(64, 48, () => [0, 0, 80]);
    await expect(() => (++calls < 4 ? blank : screen)).toMatchScreen(box, { at: [10, 5] });
    expect(calls).toBe(4);
    calls = 0;
    await expect(expect(() => (++calls, blank)).toMatchScreen(box, { at: [10, 5], timeout: 300 })).rejects.toThrow(/differs from the expected picture in 200 of 200 pixels/);
    expect(calls).toBeGreaterThan(1);
  });

  it('a picture or region that does not fit is an error naming both sizes', async () => {
    await expect(expect(screen).toMatchScreen(image(80, 10, () => [0, 0, 0]))).rejects.toMatchObject({
      code: 'ERR_DEVMAP_SCREEN_SIZE', message: 'the expected picture (80x10) at [0, 0] does not fit on the screen (64x48)',
    });
    await expect(expect(screen).toMatchScreen(box, { at: [50, 40] })).rejects.toThrow(/\(20x10\) at \[50, 40\] does not fit on the screen \(64x48\)/);
    await expect(expect(screen).toMatchScreen(box, { at: [10, 5], region: { x: 60, y: 0, width: 10, height: 10 } })).rejects.toThrow(/region 10x10 at \[60, 0\] is not inside the screen \(64x48\)/);
    await expect(expect(screen).toMatchScreen(box, { at: [10, 5], region: { x: 0, y: 0, width: 10, height: 10 } })).rejects.toThrow(/not inside the expected picture \(20x10 at \[10, 5\]\)/);
    await expect(expect(screen).toMatchScreen(join(dir, 'missing.png'))).rejects.toMatchObject({ code: 'ERR_DEVMAP_SCREEN_FILE' });
  });
});
