// The host side of one boot: the UNIX sockets in the boot's folder that QEMU
// connects to as a client -- the guest's exit status (ttyS1), QMP, the
// devmap.host port and any extra virtio-serial channels. The runner listens
// before it spawns QEMU and closes them all on every exit path.
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

import { HOST_OPS, serveHostPort, type HostOp } from './hostport.js';
import { Qmp } from './qmp.js';

export interface ServiceOptions {
  /** The machine has a devmap.host port (machine.hostPort). */
  hostPort: boolean;
  /** The ivshmem backing file the host port's ops read and write. */
  ivshmem?: { path: string; size: number };
  hostOps?: Record<string, HostOp>;
  channels?: Record<string, (socket: Socket) => void>;
}

function listen(path: string, onSocket: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer(onSocket);
    srv.once('error', reject);
    srv.listen(path, () => resolve(srv));
  });
}

export class HostServices {
  /** The command's exit status, once the guest has reported it. */
  status: number | null = null;
  /** Resolves when the exit status is in. */
  readonly statusSeen: Promise<void>;
  /** QMP, connected and past its handshake. */
  readonly qmpUp: Promise<Qmp>;
  readonly sockets: { status: string; qmp: string; host: string };
  /** Guest port name -> the socket QEMU connects that port to. */
  readonly channels: Record<string, string> = {};
  #gotStatus!: () => void;
  #qmpReady!: (q: Qmp) => void;
  #qmp: Qmp | undefined;
  readonly #servers: Server[] = [];

  constructor(private readonly dir: string) {
    this.sockets = { status: join(dir, 'status.sock'), qmp: join(dir, 'qmp.sock'), host: join(dir, 'host.sock') };
    this.statusSeen = new Promise<void>((r) => (this.#gotStatus = r));
    const qmpConnected = new Promise<Qmp>((r) => (this.#qmpReady = r));
    this.qmpUp = qmpConnected.then(async (q) => {
      this.#qmp = q;
      await q.handshake();
      return q;
    });
    this.qmpUp.catch(() => undefined);
  }

  /** Listens on every socket of this boot; what listened before a failure is closed by close(). */
  async start(o: ServiceOptions): Promise<void> {
    this.#servers.push(await listen(this.sockets.status, (s) => this.#readStatus(s)));
    this.#servers.push(await listen(this.sockets.qmp, (s) => this.#qmpReady(new Qmp(s))));
    if (o.hostPort) {
      const ctx = { qmp: () => this.qmpUp, dir: this.dir, ...(o.ivshmem ? { ivshmem: o.ivshmem } : {}) };
      this.#servers.push(await listen(this.sockets.host, (s) => serveHostPort(s, ctx, { ...HOST_OPS, ...o.hostOps })));
    }
    for (const [i, [name, fn]] of Object.entries(o.channels ?? {}).entries()) {
      this.channels[name] = join(this.dir, `ch${i}.sock`);
      this.#servers.push(await listen(this.channels[name], fn));
    }
  }

  close(): void {
    this.#qmp?.close();
    for (const s of this.#servers) s.close();
  }

  #readStatus(s: Socket): void {
    let text = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      const hit = /devmap-exit-status (\d+)\r?\n/.exec(text);
      if (hit && this.status === null) {
        this.status = Number(hit[1]);
        this.#gotStatus();
      }
    });
  }
}
