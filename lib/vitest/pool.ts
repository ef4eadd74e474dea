// A vitest 4 pool whose worker is a QEMU guest: vitest runs on the host
// (config, vite, transforms and reporting at host speed), and only its forks
// worker runs in the guest, its messages carried over a virtio-serial port
// (qemu/guest/vitest-bridge.mjs is the guest end).
//
// With snapshots (x86_64 machines with one guest), the first worker boots
// the guest, lets vitest's worker runtime load, and saves the guest there;
// every test file then gets a guest restored from that state (vitest's
// isolate: true asks for a new worker per file), and a later run restores
// the cached snapshot without booting at all. Without (ARM, two-guest
// machines), use isolate: false: one guest runs every file.
// What differs per run -- vitest's worker ids, the session's environment,
// the host's clock -- reaches the guest after the restore, so the snapshot
// holds only what is the same every run.
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

import { devmapError } from '../errors.js';
import type { GuestEnd, GuestSessionEnv } from '../harness/session/session.js';
import type { GuestControl, GuestResult, GuestRunOptions } from '../harness/qemu/runner.js';
import type { HostOp } from '../harness/qemu/hostport.js';
import type { GuestImage } from '../harness/image/image.js';

export interface DevmapPoolOptions {
  /** Machine (`devmap guest machines`); default x86_64. */
  machine?: string;
  /** Debian suite of the guest kernel: bookworm, trixie (default) or sid. */
  kernel?: string;
  /** Folders of your kernel modules (relative to the project root): built against the guest kernel, loaded before the tests. */
  kmod?: string[];
  /** Module parameters as `MODULE.PARAM=VALUE` (insmod arguments; the CLI's --kparam), e.g. ['mydrv.pages=8']. */
  kparams?: string[];
  /** Host files or folders (relative to the project root) the specs read in the guest, at the same path. */
  with?: string[];
  /** The ivshmem backing file (kept); default a fresh /dev/shm file per guest, removed after it. */
  ivshmem?: { path: string; size?: number };
  /** Environment for the specs in the guest. */
  env?: Record<string, string>;
  /**
   * A fresh guest per test file restored from a snapshot (default true where
   * the machine can be snapshotted: x86_64 with one guest). Set vitest's
   * isolate: false to run every file in one guest instead.
   */
  snapshot?: boolean;
  /** Hard limit for one guest, in ms (default 10 minutes). */
  timeoutMs?: number;
  /** Where the guest console logs and failed screen comparisons go (default: artifacts/ in the project root). */
  artifacts?: string;
  /** More host operations the specs can ask for (askHost). */
  hostOps?: Record<string, HostOp>;
  /** Gets each guest's result when it has ended. */
  onGuestEnd?: (end: GuestEnd, r: GuestResult) => void;
}

const CHANNEL = 'devmap.vitest';
/** Host environment that the worker needs; the rest (PATH, HOME...) is the host's business. */
const PASS_ENV = /^(VITEST|TEST$|NODE_ENV$|CI$|NO_COLOR$|FORCE_COLOR$|DEVMAP_)/;

interface PoolOpts {
  env: Partial<NodeJS.ProcessEnv>;
  execArgv: string[];
  project: { config: { root: string }; vitest: { logger: { outputStream: NodeJS.WritableStream } } };
}

/** Session from scripts/test.mjs (lib/harness/session/session.ts sessionEnv), if any. */
function sessionFromEnv(): { ivshmem?: GuestSessionEnv['ivshmem']; env?: Record<string, string>; role?: string; ivshmemServer?: string } {
  const s = process.env.DEVMAP_SESSION ? (JSON.parse(process.env.DEVMAP_SESSION) as GuestSessionEnv) : undefined;
  return s ? { ivshmem: s.ivshmem, env: s.env, ...(s.role ? { role: s.role } : {}), ...(s.ivshmemServer ? { ivshmemServer: s.ivshmemServer } : {}) } : {};
}

const passing = (env: Partial<NodeJS.ProcessEnv>): Record<string, string> =>
  Object.fromEntries(Object.entries(env).filter(([k, v]) => PASS_ENV.test(k) && v !== undefined)) as Record<string, string>;

/** What every worker of one pool shares: the first snapshot boot, which the others wait for. */
interface Shared {
  options: DevmapPoolOptions;
  /** Settles once the first guest has saved its snapshot (or could not). */
  saved?: Promise<void>;
  said: Set<string>;
  /** The guest image, looked up (or built) once for all workers. */
  image?: GuestImage;
}

/** What a spec of the pool can ask the host besides hostport.ts's HOST_OPS: keep an artifact, read a project file. */
function poolOps(root: string, artifacts: string): Record<string, HostOp> {
  return {
    artifact: (args) => {
      const name = basename(String(args.name ?? ''));
      if (!name || name.startsWith('.')) throw new Error(`artifact: a plain file name is needed, got "${String(args.name)}"`);
      const dir = join(artifacts, 'screens');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, name), Buffer.from(String(args.data ?? ''), 'base64'));
      return Promise.resolve({ path: join(dir, name) });
    },
    'project-file': (args) => {
      const path = resolve(root, String(args.path ?? ''));
      const rel = relative(root, path);
      if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`project-file: ${path} is outside the project (${root})`);
      if (!existsSync(path)) throw new Error(`project-file: ${rel}: no such file in the project`);
      return Promise.resolve({ data: readFileSync(path).toString('base64') });
    },
  };
}

class GuestWorker {
  readonly name = 'devmap';
  #events = new EventEmitter();
  #socket?: Socket;
  #run?: Promise<GuestResult>;
  #stopping = false;

  constructor(private readonly opts: PoolOpts, private readonly shared: Shared) {}

  on(event: string, cb: (arg: unknown) => void): void {
    this.#events.on(event, cb);
  }

  off(event: string, cb: (arg: unknown) => void): void {
    this.#events.off(event, cb);
  }

  send(message: unknown): void {
    const m = message as { type?: string; context?: { files?: ({ filepath?: string } | string)[] } };
    if ((m?.type === 'run' || m?.type === 'collect') && m.context?.files) this.#files = m.context.files.map((f) => (typeof f === 'string' ? f : f.filepath ?? '?'));
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
    // The harness is loaded here, not at import: a spec importing devmap/vitest in the guest never needs it.
    const [{ prepareImage }, { stderrLog }, { parseKparams }, { findMachine }, { runGuest }, { snapshotMachines }, { guestArtifact }] = await Promise.all([
      import('../harness/image/image.js'), import('../harness/image/cache.js'), import('../harness/image/overlay.js'), import('../harness/machines/machines.js'),
      import('../harness/qemu/runner.js'), import('../harness/qemu/snapshot.js'), import('../harness/session/session.js'),
    ]);
    const o = this.shared.options;
    const root = this.opts.project.config.root;
    const abs = (p: string): string => (isAbsolute(p) ? p : resolve(root, p));
    const artifacts = abs(o.artifacts ?? 'artifacts');
    const m = findMachine(o.machine);
    const { role, env: sessionEnv, ...session } = sessionFromEnv();
    const canSnapshot = snapshotMachines().includes(m.name) && !session.ivshmemServer;
    const snapshot = (o.snapshot ?? true) && canSnapshot;
    const sayOnce = (line: string): void => {
      if (!this.shared.said.has(line)) stderrLog(line);
      this.shared.said.add(line);
    };
    if (o.snapshot && !canSnapshot) sayOnce(`devmap/vitest: machine ${m.name} cannot be snapshotted (snapshots: ${snapshotMachines().join(', ')}); each worker boots its guest`);
    // The first worker takes the snapshot; the others wait for it, then restore.
    let first = false;
    let savedNow = (): void => undefined;
    if (snapshot) {
      if (!this.shared.saved) {
        first = true;
        this.shared.saved = new Promise<void>((r) => (savedNow = r));
      } else await this.shared.saved;
    }
    const image = (this.shared.image ??= prepareImage(m.arch, stderrLog, o.kernel, { vitest: true }));
    // In the guest from its boot (and in the snapshot, so the same every run): what the machine promises
    // (a spec tells a device the machine lacks, a skip, from one that went missing, a failure) and the user's env.
    const bootEnv = { DEVMAP_DEVICES: m.devices.join(','), ...o.env };
    // Sent after the boot or restore: what differs per worker and per run.
    const runEnv = { ...passing(this.opts.env), ...sessionEnv };
    const out = this.opts.project.vitest.logger.outputStream;
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const isReady = new Promise<void>((res, rej) => ([ready, failed] = [res, rej]));
    const t0 = Date.now();
    let readyMs = 0;
    void isReady.then(() => (readyMs = Date.now() - t0), () => undefined);
    let control: GuestControl | undefined;
    const loaded = async (): Promise<void> => {
      // A boot (not a restore) in snapshot mode saves here: the first worker's, or one whose restore failed.
      if (control && !control.restored) await control.save();
      if (first) savedNow();
      this.send({ __devmapEnv: { env: runEnv, now: Math.round(Date.now() / 1000), restored: Boolean(control?.restored) } });
    };
    const run: GuestRunOptions = {
      log: stderrLog, machine: m.name, image, env: bootEnv, cwd: root,
      ...(o.kernel ? { kernel: o.kernel } : {}),
      ...(o.kmod ? { kmodDirs: o.kmod.map(abs) } : {}),
      ...(o.kparams ? { kparams: parseKparams(o.kparams, 'kparams:') } : {}),
      ...(o.with ? { with: o.with.map(abs) } : {}),
      ...(session.ivshmem ? { ivshmem: session.ivshmem } : o.ivshmem ? { ivshmem: { ...o.ivshmem, path: abs(o.ivshmem.path) } } : {}),
      ...(session.ivshmemServer ? { ivshmemServer: session.ivshmemServer } : {}),
      hostOps: { ...poolOps(root, artifacts), ...o.hostOps },
      ...(snapshot ? { snapshot: true, snapshotAt: 'command' as const } : {}),
      control: (c) => {
        control = c;
        // A restored guest said "loaded" before it was saved.
        if (c.restored) void Promise.all([c.running, this.#connected]).then(loaded, () => undefined);
      },
      timeoutMs: o.timeoutMs ?? 600_000,
      command: ['node', ...this.opts.execArgv, '/etc/devmap/vitest-bridge.mjs', root],
      onOutput: (t) => out.write(t),
      channels: { [CHANNEL]: (s) => this.#attach(s, { loaded, ready }) },
    };
    this.#run = runGuest(run);
    void this.#run.then((r) => {
      const end: GuestEnd = {
        machine: r.machine, ...(role ? { role } : {}), accel: r.accel, outcome: r.outcome, status: r.status, reason: r.reason, lastLines: r.console.lastLines(),
        insmodFailures: r.console.text.split('\n').filter((l) => /^insmod: can't insert/.test(l)),
        bootMs: r.bootMs, readyMs, totalMs: r.totalMs,
      };
      mkdirSync(artifacts, { recursive: true });
      const base = join(artifacts, guestArtifact(r.machine, role));
      writeFileSync(`${base}.log`, r.console.text);
      writeFileSync(`${base}.json`, JSON.stringify(end, null, 2) + '\n');
      o.onGuestEnd?.(end, r);
      if (!this.#stopping) {
        const why = r.outcome === 'exited' ? `the guest worker exited with ${r.status}` : r.reason;
        const err = devmapError('ERR_DEVMAP_GUEST', `${this.#running()}: ${why}\nlast console lines:\n${r.console.lastLines()}`);
        failed(err);
        // vitest reports an 'exit' as "Worker exited unexpectedly" and fails the file; say why here.
        process.stderr.write(`devmap/vitest: ${err.message}\n`);
        this.#events.emit('exit', r.status ?? 1);
      }
    }, (err: Error) => failed(err));
    try {
      await isReady;
    } finally {
      savedNow();
    }
  }

  /** The files of the run in progress, the tests' names and the one the worker last said it started: for a guest that dies. */
  #files: string[] = [];
  #names = new Map<string, string>();
  #current?: string;

  /** Follows vitest's own reports (birpc calls onCollected, onTaskUpdate) to know which test runs; best effort. */
  #observe(msg: unknown): void {
    const call = msg as { m?: string; a?: unknown[] };
    try {
      if (call?.m === 'onCollected') {
        type Task = { id: string; name: string; tasks?: Task[] };
        const walk = (tasks: Task[] | undefined, path: string): void => {
          for (const t of tasks ?? []) {
            this.#names.set(t.id, path ? `${path} > ${t.name}` : t.name);
            walk(t.tasks, path ? `${path} > ${t.name}` : t.name);
          }
        };
        for (const f of call.a![0] as Task[]) walk(f.tasks, '');
      } else if (call?.m === 'onTaskUpdate') {
        for (const [id, event] of (call.a![1] ?? []) as [string, string][]) {
          if (event === 'test-prepare') this.#current = id;
          else if (event === 'test-finished' && this.#current === id) this.#current = undefined;
        }
      }
    } catch {
      /* another vitest's message shapes: the report names the file only */
    }
  }

  /** Which file (and test, if known) the guest was running. */
  #running(): string {
    const test = this.#current && this.#names.get(this.#current);
    return `${this.#files.join(', ') || 'no file yet'}${test ? ` > ${test}` : ''}`;
  }

  #connect!: () => void;
  #connected = new Promise<void>((r) => (this.#connect = r));

  #attach(socket: Socket, on: { loaded: () => Promise<void>; ready: () => void }): void {
    this.#socket = socket;
    this.#connect();
    let pending = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const len = pending.readUInt32BE(0);
        const msg = v8.deserialize(pending.subarray(4, 4 + len)) as { __devmapReady?: boolean; __devmapLoaded?: boolean };
        pending = pending.subarray(4 + len);
        if (msg?.__devmapLoaded) void on.loaded();
        else if (msg?.__devmapReady) on.ready();
        else {
          this.#observe(msg);
          this.#events.emit('message', msg);
        }
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

/** Builds the image and the modules now, in a child (prepare.ts); throws if that fails (the child said why). */
function prepare(o: DevmapPoolOptions): void {
  const kmod = (o.kmod ?? []).map((d) => resolve(d));
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('./prepare.js', import.meta.url)), JSON.stringify({ machine: o.machine, kernel: o.kernel, kmod })], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw devmapError('ERR_DEVMAP_POOL', `devmapPool: could not prepare the guest (${r.error?.message ?? `see above; exit ${r.status ?? r.signal}`})`);
}

export interface DevmapPool {
  name: string;
  createPoolWorker: (o: PoolOpts) => GuestWorker;
}

/**
 * The pool for a vitest project whose spec files run in a QEMU guest:
 * `defineConfig({ test: { pool: devmapPool({ machine, kmod: ['./driver'] }) } })`.
 * docs/vitest.md has the whole story.
 */
export function devmapPool(options: DevmapPoolOptions = {}): DevmapPool {
  // devmap's own test tier (DEVMAP_SESSION) has its image made by scripts/test.mjs.
  if (!process.env.DEVMAP_SESSION) prepare(options);
  const shared: Shared = { options, said: new Set() };
  return { name: 'devmap', createPoolWorker: (o) => new GuestWorker(o, shared) };
}
