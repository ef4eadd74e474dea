// The ivshmem doorbell server (QEMU docs/specs/ivshmem-spec.rst; Debian's
// QEMU ships none). Each client -- a QEMU `ivshmem-doorbell` device or a
// host peer (peer.ts) -- gets, as 8-byte little-endian messages:
// protocol version 0, its peer id, -1 with the shared-memory fd, then
// (id, eventfd) for every vector of every other peer and finally of itself.
// Others learn of a new peer by its (id, eventfd) messages, and of a peer
// that left by its id sent without an fd. The peers and those messages are
// server-peers.ts.
import { closeSync, constants as fsc, fstatSync, ftruncateSync, lstatSync, openSync, rmSync } from 'node:fs';
import type { Server } from 'node:net';

import { memfd } from '../ipc/memfd.js';
import { devmapError, isSystemError, rangeError, typeError } from '../errors.js';
import { checkSocketPath, unixConnect } from '../ipc/unix-socket.js';
import { PeerTable } from './server-peers.js';

export { PROTOCOL_VERSION } from './server-peers.js';
/** One eventfd per MSI-X vector; QEMU and the companion module take up to 64. */
export const MAX_VECTORS = 64;

export interface IvshmemServerOptions {
  /** UNIX socket path QEMU's `-chardev socket,path=` connects to: 1 to 107 bytes. */
  socket: string;
  /** Shared memory: a name (in /dev/shm), a path (contains '/'), or omitted for an anonymous memfd. */
  shm?: string;
  /** Bytes of shared memory: a power of two (QEMU refuses anything else), at least 4096. */
  size: number;
  /** Eventfds per peer: must equal the devices' `vectors=`. */
  vectors: number;
  /** Receives one line per connect/disconnect. */
  log?: (line: string) => void;
}

export interface IvshmemServer {
  readonly socket: string;
  /** The shared memory's file, or null for a memfd. */
  readonly shmPath: string | null;
  readonly size: number;
  readonly vectors: number;
  /** Ids of the connected peers. */
  peers(): number[];
  /** Stops listening, disconnects every peer, removes the socket file (and a shm file it created). Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The line `devmap ivshmem-server --json` prints on stdout once it listens,
 * as JSON: what a parent process waits for (lib/harness/session/server.ts).
 */
export interface IvshmemServerReady {
  event: 'ready';
  socket: string;
  /** The shared memory's file, or null for an anonymous memfd. */
  shm: string | null;
  size: number;
  vectors: number;
  pid: number;
}

function checkOptions(o: IvshmemServerOptions): void {
  if (o === null || typeof o !== 'object') throw typeError('options must be an object');
  checkSocketPath(o.socket, 'socket');
  if (o.shm !== undefined && (typeof o.shm !== 'string' || o.shm.length === 0)) throw typeError('shm must be a non-empty name or path');
  const s = o.size;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 4096 || !Number.isInteger(Math.log2(s))) {
    throw rangeError(`size must be a power of two of at least 4096 bytes (QEMU's ivshmem refuses other sizes), got ${String(s)}`);
  }
  if (!Number.isInteger(o.vectors) || o.vectors < 1 || o.vectors > MAX_VECTORS) {
    throw rangeError(`vectors must be an integer in [1, ${MAX_VECTORS}] (the devices' vectors=), got ${String(o.vectors)}`);
  }
}

/** An existing file, or one created here (O_EXCL: so close() removes only what the server made). */
function openOrCreate(path: string): { fd: number; created: boolean } {
  // libuv opens with O_CLOEXEC: the fd reaches peers only by SCM_RIGHTS.
  try {
    return { fd: openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL, 0o600), created: true };
  } catch (err) {
    if (!isSystemError(err, 'EEXIST')) throw err;
  }
  return { fd: openSync(path, fsc.O_RDWR), created: false };
}

/** Opens or creates the shared memory and sizes an empty file; returns its fd and whether the file was created. */
function openShm(shm: string | undefined, size: number): { fd: number; path: string | null; created: boolean } {
  if (shm === undefined) return { fd: memfd('ivshmem', size), path: null, created: false };
  const path = shm.includes('/') ? shm : `/dev/shm/${shm}`;
  const { fd, created } = openOrCreate(path);
  try {
    const st = fstatSync(fd);
    if (st.size === 0) {
      ftruncateSync(fd, size);
    } else if (st.size !== size) {
      throw devmapError('ERR_DEVMAP_BAD_SIZE', `${path} already exists with ${st.size} bytes, not ${size}; start with size ${st.size} (devmap ivshmem-server --size ${st.size}) or remove the file`);
    }
  } catch (err) {
    closeSync(fd);
    if (created) rmSync(path, { force: true });
    throw err;
  }
  return { fd, path, created };
}

/** Closes the shared memory's fd and removes a file the server created. */
function releaseShm(shm: { fd: number; path: string | null; created: boolean }): void {
  closeSync(shm.fd);
  if (shm.created && shm.path) rmSync(shm.path, { force: true });
}

/** Refuses a socket path a live server answers on; removes a stale one. */
function claimSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw devmapError('ERR_DEVMAP_SOCKET_EXISTS', `${path} exists and is not a socket; choose another --socket path`);
  try {
    closeSync(unixConnect(path));
  } catch (err) {
    if (isSystemError(err, 'ECONNREFUSED')) return rmSync(path, { force: true });
    throw err;
  }
  throw devmapError('ERR_DEVMAP_SOCKET_IN_USE', `a server already listens on ${path}; stop it or choose another --socket path`);
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Starts the server; resolves once it listens. */
export async function startIvshmemServer(options: IvshmemServerOptions): Promise<IvshmemServer> {
  checkOptions(options);
  const { socket: path, size, vectors } = options;
  claimSocket(path);
  const shm = openShm(options.shm, size);
  const peers = new PeerTable(shm.fd, vectors, options.log ?? (() => {}));
  const { createServer } = await import('node:net'); // not at devmap's import: few users start a server
  const server = createServer((socket) => peers.accept(socket));
  try {
    await listen(server, path);
  } catch (err) {
    releaseShm(shm);
    throw err;
  }

  const close = async (): Promise<void> => {
    if (peers.closed) return;
    const done = new Promise<void>((resolve) => server.close(() => resolve()));
    peers.close();
    await done;
    rmSync(path, { force: true }); // Node leaves the socket file in place
    releaseShm(shm);
  };

  return {
    socket: path,
    shmPath: shm.path,
    size,
    vectors,
    peers: () => peers.ids(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
