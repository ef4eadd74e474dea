// The doorbell server's peers (server.ts): their ids and eventfds, the
// handout a new peer gets, and the messages that tell the others it joined
// or left.
import { closeSync } from 'node:fs';
import type { Socket } from 'node:net';

import { native } from '../native.js';
import { eventfd } from '../ipc/eventfd.js';

export const PROTOCOL_VERSION = 0n;
/** Peer ids fit the Doorbell register's 16-bit peer field. */
const MAX_ID = 0xffff;

interface Peer {
  id: number;
  socket: Socket;
  fd: number;
  vectors: number[];
}

/** A message: one little-endian int64, optionally carrying fds. */
function send(fd: number, value: bigint, fds: number[] = []): void {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(value);
  native.sendFds(fd, b, fds);
}

export class PeerTable {
  readonly #peers = new Map<number, Peer>();
  #nextId = 0;
  #closed = false;

  /** `vectors` eventfds per peer; every peer gets `shmFd`. */
  constructor(private readonly shmFd: number, private readonly vectors: number, private readonly log: (line: string) => void) {}

  get closed(): boolean {
    return this.#closed;
  }

  ids(): number[] {
    return [...this.#peers.keys()];
  }

  /** A new connection: a peer with an id and its eventfds once the handout went through, else dropped. */
  accept(socket: Socket): void {
    // Node exposes no API for the fd of an accepted socket; on Linux, a UNIX
    // stream's libuv handle carries it. Node itself only ever reads from it
    // (peers send nothing), so our sendmsg() calls do not interleave with
    // Node's writes.
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const id = typeof fd === 'number' && fd >= 0 ? this.#allocate() : null;
    if (this.#closed || fd === undefined || id === null) return void socket.destroy();
    const peer: Peer = { id, socket, fd, vectors: [] };
    socket.on('error', () => {}); // reported as 'close'
    socket.on('data', () => {}); // QEMU sends nothing; ignore anything else
    try {
      this.#handOut(peer);
    } catch (err) {
      this.log(`new peer ${id}: ${(err as Error).message}; dropping it`);
      for (const e of peer.vectors) closeSync(e);
      socket.destroy();
      return;
    }
    this.#peers.set(id, peer);
    this.log(`peer ${id} joined (${this.#peers.size} connected)`);
    socket.on('close', () => this.#leave(peer));
  }

  /** Refuses new peers and disconnects every peer, closing their eventfds. */
  close(): void {
    this.#closed = true;
    for (const p of [...this.#peers.values()]) {
      this.#peers.delete(p.id);
      p.socket.destroy();
      for (const e of p.vectors) closeSync(e);
    }
  }

  // Like QEMU's server: ids go round, skipping those in use, so a fresh
  // peer does not inherit the id (and stale eventfds) of one that just left.
  #allocate(): number | null {
    for (let i = 0; i <= MAX_ID; i++, this.#nextId = (this.#nextId + 1) % (MAX_ID + 1)) {
      if (!this.#peers.has(this.#nextId)) {
        const id = this.#nextId;
        this.#nextId = (this.#nextId + 1) % (MAX_ID + 1);
        return id;
      }
    }
    return null;
  }

  /**
   * Makes the peer's eventfds and sends the handout: version, id, the shm
   * fd; its eventfds to the others; theirs, then its own, to it.
   */
  #handOut(peer: Peer): void {
    const { id, fd } = peer;
    for (let v = 0; v < this.vectors; v++) peer.vectors.push(eventfd());
    send(fd, PROTOCOL_VERSION);
    send(fd, BigInt(id));
    send(fd, -1n, [this.shmFd]);
    for (const other of this.#peers.values()) for (const e of peer.vectors) this.#tell(other, BigInt(id), [e]);
    for (const other of this.#peers.values()) for (const e of other.vectors) send(fd, BigInt(other.id), [e]);
    for (const e of peer.vectors) send(fd, BigInt(id), [e]);
  }

  #leave(peer: Peer): void {
    if (this.#peers.get(peer.id) !== peer) return;
    this.#peers.delete(peer.id);
    for (const fd of peer.vectors) closeSync(fd);
    this.log(`peer ${peer.id} left`);
    for (const other of this.#peers.values()) this.#tell(other, BigInt(peer.id));
  }

  // A peer we cannot write to (gone, or not reading: EAGAIN) is dropped;
  // its 'close' then announces it to the others.
  #tell(to: Peer, value: bigint, fds: number[] = []): void {
    try {
      send(to.fd, value, fds);
    } catch (err) {
      this.log(`peer ${to.id}: ${(err as Error).message}; dropping it`);
      to.socket.destroy();
    }
  }
}
