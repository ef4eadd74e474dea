// A vitest 4 pool whose worker is a QEMU guest: vitest runs on the host
// (config, vite, transforms and reporting at host speed), and only its forks
// worker runs in the guest, its messages carried over a virtio-serial port
// (qemu/guest/vitest-bridge.mjs is the guest end). Under TCG this saves the
// seconds that loading vite and vitest's CLI costs in the guest.
// Use with isolate: false and one worker: one guest runs every file.
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import v8 from 'node:v8';

import { packageRoot } from '../../paths.js';
import { prepareImage } from '../image/image.js';
import { stderrLog } from '../image/cache.js';
import { guestArtifact, type GuestEnd, type GuestSessionEnv } from './session.js';
import { findMachine } from '../machines/machines.js';
import { runGuest, type GuestResult, type GuestRunOptions } from '../qemu/runner.js';

export interface GuestPoolOptions {
  machine?: string;
  timeoutMs?: number;
  /** More runGuest options (ivshmem file, env, hostOps). */
  run?: Partial<GuestRunOptions>;
  /** Where to keep guest-NAME.log (the console) and guest-NAME.json (how it ended). */
  artifacts?: string;
  /** Gets the guest's result when it has ended. */
  onGuestEnd?: (end: GuestEnd, r: GuestResult) => void;
}

/** Session from scripts/test.mjs (lib/harness/session/session.ts sessionEnv), if any. */
function sessionFromEnv(): Partial<GuestRunOptions> & { role?: string } {
  const s = process.env.DEVMAP_SESSION ? (JSON.parse(process.env.DEVMAP_SESSION) as GuestSessionEnv) : undefined;
  if (!s) return {};
  return { ivshmem: s.ivshmem, env: s.env, ...(s.role ? { role: s.role } : {}), ...(s.ivshmemServer ? { ivshmemServer: s.ivshmemServer } : {}) };
}

const CHANNEL = 'devmap.vitest';
/** Host environment that the worker needs; the rest (PATH, HOME...) is the host's business. */
const PASS_ENV = /^(VITEST|TEST$|NODE_ENV$|CI$|NO_COLOR$|FORCE_COLOR$|DEVMAP_)/;

interface PoolOpts {
  env: Partial<NodeJS.ProcessEnv>;
  execArgv: string[];
  project: { vitest: { logger: { outputStream: NodeJS.WritableStream } } };
}

class GuestWorker {
  readonly name = 'devmap-guest';
  #events = new EventEmitter();
  #socket?: Socket;
  #run?: Promise<GuestResult>;
  #stopping = false;

  constructor(private readonly opts: PoolOpts, private readonly pool: GuestPoolOptions) {}

  on(event: string, cb: (arg: unknown) => void): void {
    this.#events.on(event, cb);
  }

  off(event: string, cb: (arg: unknown) => void): void {
    this.#events.off(event, cb);
  }

  send(message: unknown): void {
    const body = v8.serialize(message);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    this.#socket?.write(Buffer.concat([head, body]));
  }

  deserialize(data: unknown): unknown {
    return data;
  }

  canReuse(): boolean {
    return true;
  }

  async start(): Promise<void> {
    const m = findMachine(this.pool.machine);
    const image = prepareImage(m.arch, stderrLog, undefined, { vitest: true });
    const { role, ...run } = { ...sessionFromEnv(), ...this.pool.run };
    // DEVMAP_DEVICES: what this machine promises, so that a spec tells a
    // device the machine lacks (skip) from one that went missing (fail).
    const all = { ...this.opts.env, ...run.env, DEVMAP_DEVICES: m.devices.join(',') };
    const env = Object.fromEntries(Object.entries(all).filter(([k, v]) => PASS_ENV.test(k) && v !== undefined)) as Record<string, string>;
    const out = this.opts.project.vitest.logger.outputStream;
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const isReady = new Promise<void>((res, rej) => ([ready, failed] = [res, rej]));
    const t0 = Date.now();
    let readyMs = 0;
    void isReady.then(() => (readyMs = Date.now() - t0), () => undefined);
    this.#run = runGuest({
      log: stderrLog, ...run, machine: m.name, image, env, cwd: packageRoot,
      timeoutMs: this.pool.timeoutMs ?? 600_000,
      command: ['node', ...this.opts.execArgv, '/etc/devmap/vitest-bridge.mjs', packageRoot],
      onOutput: (t) => out.write(t),
      channels: { [CHANNEL]: (s) => this.#attach(s, ready) },
    });
    void this.#run.then((r) => {
      const end: GuestEnd = {
        machine: r.machine, ...(role ? { role } : {}), accel: r.accel, outcome: r.outcome, status: r.status, reason: r.reason, lastLines: r.console.lastLines(),
        insmodFailures: r.console.text.split('\n').filter((l) => /^insmod: can't insert/.test(l)),
        bootMs: r.bootMs, readyMs, totalMs: r.totalMs,
      };
      if (this.pool.artifacts) {
        mkdirSync(this.pool.artifacts, { recursive: true });
        const base = join(this.pool.artifacts, guestArtifact(r.machine, role));
        writeFileSync(`${base}.log`, r.console.text);
        writeFileSync(`${base}.json`, JSON.stringify(end, null, 2) + '\n');
      }
      this.pool.onGuestEnd?.(end, r);
      if (!this.#stopping) {
        const why = r.outcome === 'exited' ? `the guest worker exited with ${r.status}` : r.reason;
        failed(new Error(`${why}\nlast console lines:\n${r.console.lastLines()}`));
        this.#events.emit('exit', r.status ?? 1);
      }
    });
    await isReady;
  }

  #attach(socket: Socket, ready: () => void): void {
    this.#socket = socket;
    let pending = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const len = pending.readUInt32BE(0);
        const msg = v8.deserialize(pending.subarray(4, 4 + len)) as { __devmapReady?: boolean };
        pending = pending.subarray(4 + len);
        if (msg?.__devmapReady) ready();
        else this.#events.emit('message', msg);
      }
    });
    socket.on('error', (e) => this.#events.emit('error', e));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.send({ __devmapStop: true });
    await this.#run;
  }
}

/** The pool for a vitest project: `test: { pool: devmapGuestPool(), isolate: false, maxWorkers: 1 }`. */
export function devmapGuestPool(pool: GuestPoolOptions = {}): { name: string; createPoolWorker: (o: PoolOpts) => GuestWorker } {
  return { name: 'devmap-guest', createPoolWorker: (o) => new GuestWorker(o, pool) };
}
