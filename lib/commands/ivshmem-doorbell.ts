// `devmap ivshmem-server` and `devmap ivshmem ring|wait|send|recv`: the
// doorbell server, doorbells, and the message channel. ring/wait/send/recv
// act on the guest's device by default; --socket makes the host a peer of a
// server, --file maps a host backing file (no doorbells).
import type { Argv, CommandModule } from 'yargs';

import { Ivshmem } from '../ivshmem/device.js';
import { openHostFile } from '../ivshmem/host.js';
import { connectIvshmemPeer } from '../ivshmem/peer.js';
import { startIvshmemServer, type IvshmemServerReady } from '../ivshmem/server.js';
import { Channel } from '../ipc/channel.js';
import { parseSize } from './format.js';
import { rangeError } from '../errors.js';
import type { Mapping } from '../mapping.js';

interface Endpoint {
  memory: Mapping;
  ring?: (peer: number, vector: number) => unknown;
  wait?: (vector: number, ms: number) => Promise<unknown>;
  close(): void;
}

interface Where {
  socket?: string;
  file?: string;
  device?: string;
}

function where<T>(y: Argv<T>): Argv<T & Where> {
  return y
    .option('socket', { alias: 's', type: 'string', describe: 'be a host peer of the ivshmem server on this UNIX socket' })
    .option('file', { type: 'string', describe: 'map this host backing file (e.g. /dev/shm/NAME); no doorbells' })
    .option('device', { alias: 'd', type: 'string', describe: 'guest device: index or PCI address (default: the first doorbell device)' })
    .conflicts('socket', ['file', 'device'])
    .conflicts('file', 'device') as unknown as Argv<T & Where>;
}

async function open(w: Where): Promise<Endpoint> {
  if (w.socket !== undefined) {
    const p = await connectIvshmemPeer(w.socket);
    return { memory: p.memory, ring: (peer, v) => p.ring(peer, v), wait: (v, ms) => p.waitForInterrupt({ vector: v, timeoutMs: ms }), close: () => p.close() };
  }
  if (w.file !== undefined) {
    const f = openHostFile(w.file);
    return { memory: f.memory, close: () => f.close() };
  }
  const d = w.device ?? Ivshmem.list().find((x) => x.variant === 'doorbell')?.address;
  const s = Ivshmem.open(d === undefined ? {} : /^\d+$/.test(d) ? { index: Number(d) } : { address: d });
  return { memory: s.memory, ring: (peer, v) => s.ring(peer, v), wait: (v, ms) => s.waitForInterrupt({ vector: v, timeoutMs: ms }), close: () => s.close() };
}

const int = (v: number, name: string, max: number): number => {
  if (!Number.isInteger(v) || v < 0 || v > max) throw rangeError(`${name} must be an integer in [0, ${max}], got ${v}`);
  return v;
};

interface Chan extends Where {
  offset: string;
  length?: string;
  peer?: number;
  vector: number;
  timeout: number;
}

function chan<T>(y: Argv<T>): Argv<T & Chan> {
  return where(y)
    .option('offset', { type: 'string', default: '0', describe: 'channel region start in the shared memory (8-byte aligned)' })
    .option('length', { type: 'string', describe: 'channel region bytes (default: to the end)' })
    .option('peer', { type: 'number', describe: 'ring this peer after sending / freeing room' })
    .option('vector', { type: 'number', default: 0, describe: 'doorbell vector to ring or wait on' })
    .option('timeout', { type: 'number', default: 10_000, describe: 'ms to wait for room or a message' }) as unknown as Argv<T & Chan>;
}

function region(e: Endpoint, a: Chan): Uint8Array {
  const off = Number(parseSize(a.offset, 'offset'));
  const len = a.length === undefined ? e.memory.length - off : Number(parseSize(a.length, 'length'));
  if (off + len > e.memory.length) throw rangeError(`region [${off}, ${off + len}) is outside the ${e.memory.length}-byte shared memory`);
  return e.memory.bytes.subarray(off, off + len);
}

function attach(e: Endpoint, a: Chan, role: 'reader' | 'writer'): Channel {
  const peer = a.peer;
  return Channel.attach(region(e, a), role, {
    ...(peer !== undefined && e.ring ? { notify: () => e.ring!(peer, a.vector) } : {}),
    ...(e.wait ? { wait: (ms: number) => e.wait!(a.vector, ms) } : {}),
  });
}

const run = <A>(fn: (argv: A) => Promise<void>): ((argv: unknown) => Promise<void>) => fn as (argv: unknown) => Promise<void>;

export const doorbellCommands: CommandModule<object, unknown>[] = [
  {
    command: 'ring <peer> [vector]',
    describe: "Ring a peer's doorbell vector (default 0)",
    builder: (y) => where(y.positional('peer', { type: 'number', demandOption: true }).positional('vector', { type: 'number', default: 0 })),
    handler: run(async (a: Where & { peer: number; vector: number }) => {
      const e = await open(a);
      try {
        if (!e.ring) throw rangeError('--file has no doorbells; use --socket or the guest device');
        const ok = e.ring(int(a.peer, 'peer', 0xffff), int(a.vector, 'vector', 0xffff));
        console.log(ok === false ? `peer ${a.peer} vector ${a.vector} is not connected; nothing rung` : `rang peer ${a.peer} vector ${a.vector}`);
      } finally {
        e.close();
      }
    }),
  },
  {
    command: 'wait [vector]',
    describe: 'Wait for a doorbell on a vector (default 0); exit 1 on timeout',
    builder: (y) => where(y.positional('vector', { type: 'number', default: 0 })).option('timeout', { type: 'number', default: 10_000, describe: 'ms' }),
    handler: run(async (a: Where & { vector: number; timeout: number }) => {
      const e = await open(a);
      try {
        if (!e.wait) throw rangeError('--file has no doorbells; use --socket or the guest device');
        const n = await e.wait(int(a.vector, 'vector', 63), int(a.timeout, 'timeout', 2 ** 31 - 1));
        console.log(`vector ${a.vector} fired (${String(n)} time(s) since the last wait)`);
      } finally {
        e.close();
      }
    }),
  },
  {
    command: 'send [message]',
    describe: 'Send MESSAGE over the channel (waits while the ring is full)',
    builder: (y) => chan(y.positional('message', { type: 'string' })).option('init', { type: 'boolean', default: false, describe: 'format the region as an empty channel first' }),
    handler: run(async (a: Chan & { message?: string; init: boolean }) => {
      const e = await open(a);
      try {
        if (a.init) Channel.init(region(e, a));
        if (a.message === undefined) return;
        await attach(e, a, 'writer').send(Buffer.from(a.message, 'utf8'), { timeoutMs: a.timeout });
      } finally {
        e.close();
      }
    }),
  },
  {
    command: 'recv',
    describe: 'Receive --count messages from the channel and print them',
    builder: (y) => chan(y).option('count', { alias: 'n', type: 'number', default: 1 }).option('json', { type: 'boolean', default: false }),
    handler: run(async (a: Chan & { count: number; json: boolean }) => {
      const e = await open(a);
      try {
        const c = attach(e, a, 'reader');
        for (let i = 0; i < a.count; i++) {
          const m = await c.recv({ timeoutMs: a.timeout });
          const text = Buffer.from(m.data).toString('utf8');
          console.log(a.json ? JSON.stringify({ seq: m.seq, lost: m.lost, text }) : text);
        }
      } finally {
        e.close();
      }
    }),
  },
];

export const ivshmemServerCommand: CommandModule = {
  command: 'ivshmem-server',
  describe: "Run the ivshmem doorbell server QEMU's ivshmem-doorbell connects to",
  builder: (y) =>
    y
      .option('socket', { alias: 's', type: 'string', demandOption: true, describe: 'UNIX socket path (QEMU: -chardev socket,path=PATH,id=ivs)' })
      .option('shm', { type: 'string', describe: 'shared memory: NAME (/dev/shm/NAME) or PATH; default an anonymous memfd' })
      .option('size', { type: 'string', default: '4M', describe: 'shared memory size, a power of two' })
      .option('vectors', { alias: 'n', type: 'number', default: 1, describe: "eventfds per peer: the devices' vectors=" })
      .option('json', {
        type: 'boolean', default: false,
        describe: 'for programs: stdout carries only JSON lines, {"event":"ready","socket","shm","size","vectors","pid"} once it listens and {"event":"stopped","signal"} at the end; the messages for people go to stderr',
      })
      .example('devmap ivshmem-server -s /tmp/ivs.sock --size 1M -n 2', 'then: qemu ... -chardev socket,path=/tmp/ivs.sock,id=ivs -device ivshmem-doorbell,chardev=ivs,vectors=2')
      .example('devmap ivshmem-server -s /tmp/ivs.sock --shm guests --size 4M', 'shared memory in /dev/shm/guests, which the host can map too')
      .example('devmap ivshmem-server -s /tmp/ivs.sock --json', 'a parent process waits for the {"event":"ready",...} line on stdout'),
  handler: run(async (a: { socket: string; shm?: string; size: string; vectors: number; json: boolean }) => {
    // Signals are caught from the start: one that lands while the server
    // starts up still stops it cleanly (socket removed) once it listens.
    let stop: (sig: string) => void = () => {};
    const stopped = new Promise<string>((resolve) => (stop = resolve));
    const onSignal = (sig: string): void => stop(sig);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    // With --json, stdout is for the parent program; people read stderr.
    const say = a.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
    const server = await startIvshmemServer({
      socket: a.socket, size: Number(parseSize(a.size, 'size')), vectors: a.vectors,
      ...(a.shm === undefined ? {} : { shm: a.shm }), log: say,
    });
    say(`ivshmem server on ${a.socket}: ${a.size} shared memory${server.shmPath ? ` (${server.shmPath})` : ''}, ${a.vectors} vector(s) per peer; Ctrl-C stops it`);
    if (a.json) {
      const ready: IvshmemServerReady = { event: 'ready', socket: server.socket, shm: server.shmPath, size: server.size, vectors: server.vectors, pid: process.pid };
      console.log(JSON.stringify(ready));
    }
    const signal = await stopped;
    say(`${signal}: stopping`);
    await server.close();
    if (a.json) console.log(JSON.stringify({ event: 'stopped', signal }));
  }),
};
