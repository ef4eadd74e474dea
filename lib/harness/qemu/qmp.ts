// A small QMP client (QEMU Machine Protocol, docs/interop/qmp-spec.rst).
// QEMU connects to a socket we listen on (so there is no race for the
// socket to appear); commands are answered in order, events are kept.
import { once } from 'node:events';
import type { Socket } from 'node:net';

import { devmapError } from '../../errors.js';

export interface QmpEvent {
  event: string;
  data?: unknown;
  timestamp?: { seconds: number; microseconds: number };
}

type Reply = { return?: unknown; error?: { class: string; desc: string } };

export class Qmp {
  readonly events: QmpEvent[] = [];
  #socket: Socket;
  #buf = '';
  #waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  #greeting: Promise<void>;
  #closed = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    let greeted: () => void;
    this.#greeting = new Promise((r) => (greeted = r));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buf += chunk;
      for (let nl = this.#buf.indexOf('\n'); nl >= 0; nl = this.#buf.indexOf('\n')) {
        const line = this.#buf.slice(0, nl).trim();
        this.#buf = this.#buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Reply & QmpEvent & { QMP?: unknown };
        if (msg.QMP) greeted();
        else if (msg.event) this.events.push(msg);
        else this.#waiting.shift()?.resolve(msg);
      }
    });
    const fail = (): void => {
      this.#closed = true;
      for (const w of this.#waiting.splice(0)) w.reject(devmapError('ERR_DEVMAP_QMP', 'QEMU closed the QMP connection'));
    };
    socket.on('close', fail);
    socket.on('error', fail);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits for the greeting and leaves capabilities negotiation mode. */
  async handshake(): Promise<void> {
    await this.#greeting;
    await this.execute('qmp_capabilities');
  }

  async execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed) throw devmapError('ERR_DEVMAP_QMP', `QMP ${command}: connection closed`);
    const reply = new Promise<Reply>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    this.#socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    const r = await reply;
    if (r.error) throw devmapError('ERR_DEVMAP_QMP', `QMP ${command}: ${r.error.class}: ${r.error.desc}`);
    return r.return as T;
  }

  /** Saves the guest's screen as a PNG on the host: graphics console 0, or the display device with QEMU id `device`. */
  screendump(file: string, device?: string): Promise<unknown> {
    return this.execute('screendump', { filename: file, format: 'png', ...(device ? { device } : {}) });
  }

  queryStatus(): Promise<{ running: boolean; status: string }> {
    return this.execute('query-status');
  }

  /** A human monitor command ("info pci", "xp /4xw 0x..."); returns its text. */
  hmp(commandLine: string): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine });
  }

  /** Asks QEMU to exit; resolves when it has closed the connection. */
  async quit(): Promise<void> {
    if (this.#closed) return;
    const closed = once(this.#socket, 'close');
    await this.execute('quit').catch(() => undefined);
    await closed;
  }

  close(): void {
    this.#socket.destroy();
  }
}
