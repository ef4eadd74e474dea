// devmap/vitest: run a project's vitest specs inside QEMU guests.
//   vitest.config: defineConfig({ test: { pool: devmapPool({ machine, kmod: ['./driver'] }) } })
//   a spec:        import { screenshot, hostIvshmem } from 'devmap/vitest';
//                  await expect(await screenshot()).toMatchScreen('test/expected.png', { at: [0, 0] });
// Importing this module registers the toMatchScreen matcher. docs/vitest.md.
import { expect } from 'vitest';

import type { Image } from '../fb/pixel.js';
import { matchScreen, type ScreenMatchOptions, type ScreenSource } from './screen.js';

export { devmapPool, type DevmapPool, type DevmapPoolOptions } from './pool.js';
export { askHost, hostIvshmem, screenshot, type ScreenshotOptions } from './host.js';
export { compareScreen, type Rect, type ScreenDiff, type ScreenMatchOptions, type ScreenSource } from './screen.js';
export type { Image } from '../fb/pixel.js';

interface ScreenMatchers<R = unknown> {
  /**
   * The screen (an RGBA image, e.g. from screenshot(), or a function taking
   * it, retried until it matches or `timeout`) shows `expected` (an Image,
   * PNG bytes or a PNG file) at `at`: pixel-exact, or within `tolerance` per
   * channel, over `region`. Await it. On a mismatch the
   * expected, actual and diff PNGs go to the artifacts folder and the
   * message names them.
   */
  toMatchScreen(expected: Image | Uint8Array | string, options?: ScreenMatchOptions): Promise<R>;
}

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-empty-object-type
  interface Assertion<T = any> extends ScreenMatchers<T> {}
}

expect.extend({
  async toMatchScreen(received: ScreenSource, expected: Image | Uint8Array | string, options: ScreenMatchOptions = {}) {
    const v = await matchScreen(received, expected, options, this.currentTestName);
    return { pass: v.pass, message: () => v.message };
  },
});
