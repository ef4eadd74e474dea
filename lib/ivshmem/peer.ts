// The host as an ivshmem peer: a client of the doorbell server exactly like
// a QEMU ivshmem-doorbell device. It maps the shared memory, rings other
// peers by signalling their eventfds (what QEMU does for a guest's Doorbell
// write) and awaits its own eventfds.
import { EventEmitter } from 'node:events';
import { closeSync, fstatSync } from 'node:fs';

import { native } from '../native.js';
import { type Mapping } from '../mapping.js';
import { mapFd } from '../map.js';
import { eventfd, eventfdDrain, eventfdSignal } from '../ipc/eventfd.js';
import { VectorLatch, type WaitOptions } from '../ipc/interrupts.js';
import { checkMs, devmapError, isSystemError, rangeError, typeError } from '../errors.js';
import { checkSocketPath, unixConnect } from '../ipc/unix-socket.js';

const C = native.constants;
/** Re-arm period of the poll loop: close() wakes it at once, this only bounds it. */
const POLL_MS = 1000;

export interface PeerOptions {
  /** The devices' vectors= (how many own eventfds end the handshake). Default: all that arrive. */
  vectors?: number;
  /** Give up on the handshake after this many ms, in [1, 2^31 - 1]. Default 5,000. */
  timeoutMs?: number;
}

/**
 * Events: 'peer-joined' (id, once its first eventfd arrives), 'peer-left'
 * (id), 'server-closed' (the server went away: rings and interrupts between
 * the peers that are still here keep working, nobody new can join).
 */
export class IvshmemPeer extends EventEmitter {
  id = -1;
  memory!: Mapping;
  /** Own eventfds, one per vector. */
  vectors = 0;
  #sock: number;
  #cancel = eventfd();
  #own: number[] = [];
  #peers = new Map<number, number[]>();
  #shm = -1;
  #pending = Buffer.alloc(0);
  #stage = 0;
  #latch!: VectorLatch;
  #serverGone = false;
  #closed = false;
  #loop: Promise<void> | null = null;

  private constructor(sock: number) {
    super();
    this.#sock = sock;
  }

  /** Connects to the server at `socketPath` and completes the handshake. */
  static async connect(socketPath: string, options: PeerOptions = {}): Promise<IvshmemPeer> {
    checkSocketPath(socketPath, 'socketPath');
    if (options === null || typeof options !== 'object') throw typeError('options must be an object');
    const { vectors, timeoutMs = 5000 } = options;
    if (vectors !== undefined && (!Number.isInteger(vectors) || vectors < 1 || vectors > 64)) throw rangeError(`vectors must be an integer in [1, 64], got ${vectors}`);
    checkMs(timeoutMs, 'timeoutMs');
    const p = new IvshmemPeer(unixConnect(socketPath));
    try {
      const deadline = Date.now() + timeoutMs;
      let quiet = 0;
      // Without `vectors`, the own eventfds are complete once the socket
      // stays quiet for 50 ms after the first one (the server sends them
      // back to back).
      while (vectors === undefined ? p.#own.length === 0 || quiet < 1 : p.#own.length < vectors) {
        const left = deadline - Date.now();
        if (left <= 0 || p.#serverGone) throw devmapError('ERR_DEVMAP_HANDSHAKE', `no complete ivshmem handshake from ${socketPath} within ${timeoutMs} ms (got id ${p.id}, ${p.#own.length} own eventfd(s))`);
        const [rev] = await native.poll([p.#sock], C.POLLIN, Math.min(left, 50));
        quiet = rev ? 0 : quiet + 1;
        if (rev) p.#read();
      }
      const size = fstatSync(p.#shm).size;
      p.memory = mapFd(p.#shm, `ivshmem:${socketPath}`, { length: size });
      closeSync(p.#shm);
      p.#shm = -1;
    } catch (err) {
      p.#closeFds();
      throw err;
    }
    p.vectors = p.#own.length;
    p.#latch = new VectorLatch(p.vectors);
    p.#loop = p.#run();
    return p;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** False once the server has gone away. */
  get connected(): boolean {
    return !this.#serverGone && !this.#closed;
  }

  /** Ids of the other peers and how many of their vectors are known. */
  peers(): Map<number, number> {
    return new Map([...this.#peers].map(([id, fds]) => [id, fds.length]));
  }

  /** Rings `vector` of `peer`. False when that peer or vector is unknown (like a guest's Doorbell write, never an error). */
  ring(peer: number, vector = 0): boolean {
    this.#check();
    for (const [n, v] of [['peer', peer], ['vector', vector]] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw rangeError(`${n} must be an integer in [0, 65535], got ${v}`);
    }
    const fd = peer === this.id ? this.#own[vector] : this.#peers.get(peer)?.[vector];
    if (fd === undefined) return false;
    eventfdSignal(fd);
    return true;
  }

  /** Resolves with how many times `vector` was rung since the last wait (eventfds count exactly). */
  async waitForInterrupt(options: WaitOptions = {}): Promise<number> {
    this.#check();
    return this.#latch.wait(options);
  }

  /** Unmaps the memory, leaves the server and closes every fd. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.memory.unmap();
    this.#latch.close(devmapError('ERR_DEVMAP_CLOSED', `ivshmem peer ${this.id} is closed`));
    eventfdSignal(this.#cancel); // the loop closes the fds once its poll() returned
  }

  /** Resolves once close() has released every fd (the poll loop ended). */
  async released(): Promise<void> {
    await this.#loop;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw devmapError('ERR_DEVMAP_CLOSED', `ivshmem peer ${this.id} is closed`);
  }

  async #run(): Promise<void> {
    try {
      while (!this.#closed) {
        const fds = [this.#cancel, ...this.#own, ...(this.#serverGone ? [] : [this.#sock])];
        const rev = await native.poll(fds, C.POLLIN, POLL_MS);
        if (this.#closed) break;
        this.#own.forEach((fd, v) => {
          if (rev[v + 1]) this.#latch.fire(v, Number(eventfdDrain(fd)));
        });
        if (!this.#serverGone && rev[fds.length - 1]) this.#read();
      }
    } catch (err) {
      this.#latch.close(err as Error);
      this.#serverGone = true;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    } finally {
      this.#closeFds();
    }
  }

  /** Reads every queued message. One recvmsg per 8-byte message keeps each fd with its message. */
  #read(): void {
    for (;;) {
      let r;
      try {
        r = native.recvFds(this.#sock, 8 - this.#pending.length, 4);
      } catch (err) {
        if (isSystemError(err, 'EAGAIN')) return;
        if (!isSystemError(err, 'ECONNRESET')) throw err;
        r = { data: Buffer.alloc(0), fds: [] as number[] };
      }
      if (r.data.length === 0) {
        for (const fd of r.fds) closeSync(fd);
        this.#serverGone = true;
        if (this.#loop) this.emit('server-closed');
        return;
      }
      this.#pending = Buffer.concat([this.#pending, r.data]);
      const fd = r.fds[0] ?? -1;
      for (const extra of r.fds.slice(1)) closeSync(extra);
      if (this.#pending.length < 8) continue; // fds ride on a message's first byte
      const value = this.#pending.readBigInt64LE(0);
      this.#pending = Buffer.alloc(0);
      this.#message(value, fd);
    }
  }

  // Handshake order (ivshmem-spec.rst): version, own id, -1 + shm fd; then
  // (id, fd) adds a vector of a peer (ourselves included), (id) without an
  // fd says that peer left.
  #message(value: bigint, fd: number): void {
    const bad = (what: string): never => {
      if (fd >= 0) closeSync(fd);
      throw devmapError('ERR_DEVMAP_PROTOCOL', `ivshmem server: ${what}`);
    };
    if (this.#stage === 0) {
      if (value !== 0n || fd >= 0) bad(`protocol version ${value}; devmap speaks version 0`);
      this.#stage = 1;
    } else if (this.#stage === 1) {
      if (value < 0n || value > 0xffffn || fd >= 0) bad(`bad peer id ${value}`);
      this.id = Number(value);
      this.#stage = 2;
    } else if (this.#stage === 2) {
      if (value !== -1n || fd < 0) bad(`expected the shared-memory fd (-1), got ${value}${fd < 0 ? ' without an fd' : ''}`);
      this.#shm = fd;
      this.#stage = 3;
    } else if (value < 0n || value > 0xffffn) {
      bad(`bad peer id ${value}`);
    } else if (Number(value) === this.id) {
      if (fd >= 0) this.#own.push(fd);
    } else if (fd >= 0) {
      const id = Number(value);
      const list = this.#peers.get(id);
      if (list) list.push(fd);
      else {
        this.#peers.set(id, [fd]);
        if (this.#loop) this.emit('peer-joined', id);
      }
    } else {
      const id = Number(value);
      for (const e of this.#peers.get(id) ?? []) closeSync(e);
      if (this.#peers.delete(id)) this.emit('peer-left', id);
    }
  }

  #closeFds(): void {
    for (const fd of [this.#sock, this.#cancel, this.#shm, ...this.#own, ...[...this.#peers.values()].flat()]) {
      if (fd >= 0) closeSync(fd);
    }
    this.#own = [];
    this.#peers.clear();
    this.#sock = this.#cancel = this.#shm = -1;
  }
}

/** Connects the host as a peer of the ivshmem server at `socketPath`. */
export function connectIvshmemPeer(socketPath: string, options?: PeerOptions): Promise<IvshmemPeer> {
  return IvshmemPeer.connect(socketPath, options);
}
