// How a channel end sleeps and wakes the other, by the memory under it:
//
//   doorbell  `wait`/`notify` hooks: ivshmem between VMs, where the two
//             kernels share no futex; the hooks ring and await doorbells
//   atomics   a SharedArrayBuffer between worker_threads: Atomics.waitAsync /
//             Atomics.wait / Atomics.notify on the end's waiting word
//   futex     `futex: true` (a memfd or /dev/shm file mapped by processes of
//             one kernel): FUTEX_WAIT/FUTEX_WAKE on that word through the
//             addon (the blocking wait on the libuv pool, or sync)
//   poll      otherwise, or `pollMs` given: look again every pollMs (default
//             1; nothing wakes it). The default for a mapping, whose other
//             end may be a guest (an ivshmem backing file) that no futex wakes
//
// A futex needs ordinary pages: on a device BAR (VM_PFNMAP) the kernel
// refuses it (EFAULT), and the end falls back to polling every millisecond.
import { devmapError, isSystemError } from '../errors.js';
import { native } from '../native.js';
import type { ChannelWake } from './layout.js';

export interface Sleeper {
  readonly kind: 'doorbell' | 'atomics' | 'futex' | 'poll';
  /** Sleeps while word `index` holds `expected`, at most `ms` (a doorbell ignores the word). */
  wait(index: number, expected: number, ms: number): Promise<unknown>;
  /** The same, blocking the thread. */
  waitSync(index: number, expected: number, ms: number): void;
  /** Wakes whoever sleeps on word `index`. */
  wake(index: number): void;
}

type WaitAsync = (a: Int32Array, i: number, v: number, ms: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;
const nap = new Int32Array(new SharedArrayBuffer(4)); // Atomics.wait on it is a plain sleep

const pollSleeper = (pollMs: number): Sleeper => ({
  kind: 'poll',
  wait: (_i, _v, ms) => {
    const t = Math.min(ms, pollMs);
    return new Promise((r) => (t === 0 ? setImmediate(r) : setTimeout(r, t)));
  },
  waitSync: (_i, _v, ms) => void Atomics.wait(nap, 0, 0, Math.min(ms, pollMs)),
  wake: () => {},
});

/** The sleeper for a channel over `i32` with options `o`. */
export function sleeperFor(i32: Int32Array, o: ChannelWake): Sleeper {
  if (o.wait || o.notify) {
    const { wait, notify } = o;
    return {
      kind: 'doorbell',
      wait: (_i, _v, ms) =>
        wait
          ? wait(ms).catch((err: { code?: string }) => {
              if (err?.code !== 'ERR_DEVMAP_TIMEOUT') throw err;
            })
          : pollSleeper(o.pollMs ?? 1).wait(_i, _v, ms),
      waitSync: () => {
        throw devmapError('ERR_DEVMAP_CHANNEL_WAKE', 'a doorbell wait is asynchronous; use peek(), recv(), reserve() or send(), not their Sync forms');
      },
      wake: () => notify?.(),
    };
  }
  if (o.pollMs !== undefined) return pollSleeper(o.pollMs);
  if (o.futex) return futexSleeper(i32);
  if (i32.buffer instanceof SharedArrayBuffer) {
    return {
      kind: 'atomics',
      wait: (i, v, ms) => {
        const r = waitAsync(i32, i, v, ms);
        if (!r.async) return Promise.resolve(r.value);
        // A pending waitAsync does not keep Node's event loop alive; a timer does.
        const alive = setTimeout(() => {}, ms + 10);
        return (r.value as Promise<string>).finally(() => clearTimeout(alive));
      },
      waitSync: (i, v, ms) => void Atomics.wait(i32, i, v, ms),
      wake: (i) => void Atomics.notify(i32, i),
    };
  }
  return pollSleeper(1);
}

function futexSleeper(i32: Int32Array): Sleeper {
  const buf = i32.buffer as ArrayBuffer;
  const at = (i: number): number => i32.byteOffset + i * 4;
  let fallback: Sleeper | undefined; // set once the kernel refused a futex here
  const refused = (err: unknown): Sleeper => {
    if (!isSystemError(err, 'EFAULT')) throw err;
    return (fallback = pollSleeper(1));
  };
  return {
    kind: 'futex',
    wait: (i, v, ms) => fallback?.wait(i, v, ms) ?? native.futexWait(buf, at(i), v, ms).catch((err) => refused(err).wait(i, v, ms)),
    waitSync: (i, v, ms) => {
      if (fallback) return fallback.waitSync(i, v, ms);
      try {
        native.futexWaitSync(buf, at(i), v, ms);
      } catch (err) {
        refused(err).waitSync(i, v, ms);
      }
    },
    wake: (i) => {
      if (fallback) return;
      try {
        native.futexWake(buf, at(i));
      } catch (err) {
        refused(err);
      }
    },
  };
}

/**
 * One end's waiting, and its waking of the other end. A waiting end keeps
 * looking for `spinUs` microseconds, then sets its waiting word, looks once
 * more, and sleeps while that word stays set; after a sleep it looks again
 * without spinning (a poller would otherwise spin at every poll). Spinning
 * about as long as a sleep and its wake-up cost (a futex or pipe round trip
 * is 15-30 µs on the 2-core machines measured in docs/BENCHMARKS.md) means
 * that an end whose peer keeps up never pays for one, while one that waits
 * longer spends at most that on spinning. The other end, after publishing,
 * clears the word and wakes it only when the word is set: no system call
 * while both keep up, one wake per sleep. Sleeping on the waiting word (not
 * on the counter the other end moves) is what lets the waker clear it: a
 * clear that lands before the sleep ends it at once, so no wake-up is lost.
 */
export class Waiting {
  constructor(
    private readonly i32: Int32Array,
    private readonly mine: number,
    private readonly theirs: number,
    readonly sleeper: Sleeper,
    private readonly o: { spinUs: number; sliceMs: number; onSleep: (() => void) | undefined; what: string }
  ) {}

  /** Wakes the other end if its waiting word says it sleeps. */
  wakeOther(): void {
    if (Atomics.load(this.i32, this.theirs) === 0) return;
    Atomics.store(this.i32, this.theirs, 0);
    this.sleeper.wake(this.theirs);
  }

  /** take()'s first non-null result, sleeping between tries, up to `timeoutMs`. */
  async until<T>(take: () => T | null, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let spinUs = this.o.spinUs; ; spinUs = 0) {
      const v = this.ready(take, spinUs);
      if (v !== null) return v;
      try {
        await this.sleeper.wait(this.mine, 1, this.slice(deadline));
      } finally {
        Atomics.store(this.i32, this.mine, 0);
      }
    }
  }

  /** until(), blocking the thread. */
  untilSync<T>(take: () => T | null, timeoutMs: number): T {
    const deadline = Date.now() + timeoutMs;
    for (let spinUs = this.o.spinUs; ; spinUs = 0) {
      const v = this.ready(take, spinUs);
      if (v !== null) return v;
      try {
        this.sleeper.waitSync(this.mine, 1, this.slice(deadline));
      } finally {
        Atomics.store(this.i32, this.mine, 0);
      }
    }
  }

  /** take(), spinning for `spinUs` (only before a wait's first sleep: a poll or a slice that ends spins no more), then once more with the waiting word set; null: sleep. */
  private ready<T>(take: () => T | null, spinUs: number): T | null {
    let v = take();
    if (v !== null) return v;
    if (spinUs > 0) {
      const until = performance.now() + spinUs / 1000;
      do {
        for (let i = 0; i < 16; i++) if ((v = take()) !== null) return v; // the clock costs more than a look
      } while (performance.now() < until);
    }
    Atomics.store(this.i32, this.mine, 1);
    v = take();
    if (v !== null) Atomics.store(this.i32, this.mine, 0);
    return v;
  }

  /** How long the next sleep may last: at most a slice, so that a wake-up lost to a peer that restarted (or a doorbell race) costs latency, never a hang. */
  private slice(deadline: number): number {
    const left = deadline - Date.now();
    if (left <= 0) throw devmapError('ERR_DEVMAP_TIMEOUT', `no ${this.o.what} on the channel within the timeout`);
    this.o.onSleep?.();
    return Math.min(left, this.o.sliceMs);
  }
}
