// Page-flip completions (and vblank events) off the DRM fd. A flip asked with
// DRM_MODE_PAGE_FLIP_EVENT ends with a struct drm_event_vblank queued on the
// fd, which then becomes readable: the event loop watches it (the addon's
// FdWatcher, started only while flips are pending, so an idle Drm never
// keeps the process alive), and each event settles the flip whose
// user_data it carries. No thread waits per flip.
import { devmapError } from '../errors.js';
import type { FdWatcher } from '../native.js';
import { DRM_EVENT_FLIP_COMPLETE, DRM_EVENT_VBLANK } from './abi.js';
import { decodeEvents } from './structs.js';

/** What a page flip's completion event reports. */
export interface FlipEvent {
  crtcId: number;
  /** The CRTC's vblank counter at the flip; 0 on drivers without vblank support (bochs-drm, virtio-gpu). */
  sequence: number;
  /** When the flip happened, microseconds on CLOCK_MONOTONIC (DRM_CAP_TIMESTAMP_MONOTONIC). */
  timestampUs: number;
}

interface Waiter {
  resolve(e: FlipEvent): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class FlipEvents {
  #waiters = new Map<bigint, Waiter>();
  #next = 1n;
  #watcher: FdWatcher;
  #read: (into: Uint8Array) => number;
  #buf = new Uint8Array(4096);
  #watching = false;
  /** Events read, flip completions or not. */
  received = 0;

  constructor(watch: (onReadable: (status: number) => void) => FdWatcher, read: (into: Uint8Array) => number) {
    this.#read = read;
    this.#watcher = watch((status) => this.#drain(status));
  }

  get pending(): number {
    return this.#waiters.size;
  }

  /**
   * A user_data cookie for the next flip and the promise its event settles.
   * Rejects with ERR_DEVMAP_TIMEOUT when no event came in `timeoutMs`.
   */
  expect(timeoutMs: number, what: string): { cookie: bigint; done: Promise<FlipEvent> } {
    const cookie = this.#next++;
    const done = new Promise<FlipEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#settle(cookie)?.reject(devmapError('ERR_DEVMAP_TIMEOUT', `no event for ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.set(cookie, { resolve, reject, timer });
    });
    if (!this.#watching) {
      this.#watcher.start();
      this.#watching = true;
    }
    return { cookie, done };
  }

  /** The flip whose ioctl failed: no event will come. */
  cancel(cookie: bigint): void {
    const w = this.#settle(cookie);
    if (w) w.reject(devmapError('ERR_DEVMAP_CANCELLED', 'the flip was not queued'));
  }

  #settle(cookie: bigint): Waiter | undefined {
    const w = this.#waiters.get(cookie);
    if (!w) return undefined;
    this.#waiters.delete(cookie);
    clearTimeout(w.timer);
    if (this.#waiters.size === 0 && this.#watching) {
      this.#watcher.stop();
      this.#watching = false;
    }
    return w;
  }

  #drain(status: number): void {
    if (status < 0) return; // a poll error: the reads below would fail the same way, the timeouts report it
    for (;;) {
      let n: number;
      try {
        n = this.#read(this.#buf);
      } catch {
        return;
      }
      if (n <= 0) return;
      for (const e of decodeEvents(this.#buf.subarray(0, n))) {
        this.received++;
        if (e.type !== DRM_EVENT_FLIP_COMPLETE && e.type !== DRM_EVENT_VBLANK) continue;
        this.#settle(e.userData)?.resolve({ crtcId: e.crtcId, sequence: e.sequence, timestampUs: e.tvSec * 1e6 + e.tvUsec });
      }
    }
  }

  /** Rejects every pending flip with `err` and stops watching for good. */
  close(err: Error): void {
    for (const cookie of [...this.#waiters.keys()]) this.#settle(cookie)?.reject(err);
    this.#watcher.close();
  }
}
