// Saving a guest to a file and loading it back through QEMU's migration
// (QMP, exec:cat), and the devmap.job port that carries the command to a
// guest waiting at its snapshot point (qemu/guest/init.sh). A boot that
// takes the snapshot: /init says "ready", the host stops the guest, writes
// its state, lets it go on and sends the job. A restore: QEMU starts paused
// with -incoming defer, loads the file, the host puts its ivshmem data back,
// starts the guest and sends the job. Measured in docs/guests.md "Snapshots".
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';

import { devmapError } from '../../errors.js';
import { shellQuote, type Log } from '../image/cache.js';
import type { Qmp } from './qmp.js';
import type { SnapshotEntry } from './snapshot.js';

/** The virtio-serial port the command arrives on (qemu/guest/init.sh). */
export const JOB_PORT = 'devmap.job';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls query-migrate until the migration is over; throws unless it completed. */
async function migrated(qmp: Qmp, what: string, gone?: Promise<unknown>): Promise<void> {
  let over = false;
  void gone?.then(() => (over = true));
  for (;;) {
    if (over) throw devmapError('ERR_DEVMAP_SNAPSHOT', `QEMU exited during the ${what}`);
    const s = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (s.status === 'completed') return;
    if (s.status === 'failed' || s.status === 'cancelled') throw devmapError('ERR_DEVMAP_SNAPSHOT', `${what} ${s.status}${s['error-desc'] ? `: ${s['error-desc']}` : ''}`);
    await sleep(20);
  }
}

/** Stops the guest, writes its state to `e` (temp file, renamed when complete), and lets it go on. */
async function saveSnapshot(qmp: Qmp, e: SnapshotEntry): Promise<{ ms: number; size: number }> {
  const t0 = Date.now();
  await qmp.execute('stop');
  try {
    let size = 0;
    mkdirSync(dirname(e.file), { recursive: true });
    const tmp = `${e.file}.tmp-${process.pid}-${Date.now()}`;
    try {
      // The default limit (32 MiB/s) would make a 1 GiB guest's save take ten seconds.
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 2 ** 33 });
      await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote([tmp])}` });
      await migrated(qmp, 'save');
      size = statSync(tmp).size;
      renameSync(tmp, e.file);
      writeFileSync(e.meta, JSON.stringify({ size, created: new Date().toISOString() }) + '\n');
    } finally {
      rmSync(tmp, { force: true });
    }
    return { ms: Date.now() - t0, size };
  } finally {
    await qmp.execute('cont');
  }
}

/**
 * The ivshmem backing file's contents now, and a function that writes them
 * back: a restore writes the snapshot's copy of the shared memory into the
 * file (QEMU 7.2 cannot leave it out), so the host's data is put back while
 * the restored guest is still paused.
 */
function keepHostData(shm: { path: string; size: number } | undefined): () => void {
  if (!shm) return () => undefined;
  const data = Buffer.alloc(shm.size);
  const fd = openSync(shm.path, 'r');
  try {
    readSync(fd, data, 0, shm.size, 0);
  } finally {
    closeSync(fd);
  }
  return () => {
    const w = openSync(shm.path, 'r+');
    try {
      writeSync(w, data, 0, data.length, 0);
    } finally {
      closeSync(w);
    }
  };
}

/** Loads `e` into a QEMU started paused with -incoming defer, puts the host's ivshmem data back and starts the guest; throws if QEMU cannot load it. */
async function restoreSnapshot(qmp: Qmp, e: SnapshotEntry, putBack: () => void, gone: Promise<unknown>): Promise<void> {
  try {
    await qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote([e.file])}` });
    await migrated(qmp, 'restore', gone);
  } finally {
    putBack();
  }
  await qmp.execute('cont');
}

/** The job: "SECONDS SIZE\n" (the host's clock, the overlay's length), then the overlay cpio with this run's command. */
function sendJob(socket: Socket, overlay: string): void {
  const cpio = readFileSync(overlay);
  socket.write(`${(Date.now() / 1000).toFixed(0)} ${cpio.length}\n`);
  socket.write(cpio);
}

/**
 * The host end of the devmap.job port. `onReady` runs when the guest says
 * "ready" (a boot that takes the snapshot); a restored guest said it before
 * it was saved, so the restore path sends the job itself.
 */
function jobPort(onReady: (socket: Socket) => void): { channel: (socket: Socket) => void; socket: Promise<Socket> } {
  let got!: (s: Socket) => void;
  const socket = new Promise<Socket>((r) => (got = r));
  const channel = (s: Socket): void => {
    got(s);
    let text = '';
    s.setEncoding('utf8').on('data', (d: string) => {
      text += d;
      if (text.includes('ready\n')) {
        text = '';
        onReady(s);
      }
    });
    s.on('error', () => undefined);
  };
  return { channel, socket };
}

type Channel = (socket: Socket) => void;

/** The devmap.job port of a boot that takes the snapshot: saved when /init says ready, then the job (`job`, an overlay cpio) is sent. */
export function savingPort(e: SnapshotEntry, job: string, log: Log, qmp: Promise<Qmp>): Record<string, Channel> {
  const port = jobPort((s) => void saveNow(e, log, qmp).then(() => sendJob(s, job)));
  return { [JOB_PORT]: port.channel };
}

/** Saves the guest to `e` now and says so; a save that fails is said and the run goes on without one (never rejects). */
export async function saveNow(e: SnapshotEntry, log: Log, qmp: Promise<Qmp>): Promise<void> {
  try {
    const r = await saveSnapshot(await qmp, e);
    log(`saved a snapshot of this guest (${(r.size / 2 ** 20).toFixed(0)} MiB in ${(r.ms / 1000).toFixed(1)} s), later runs of this configuration restore it: ${e.file}`);
  } catch (err) {
    log(`could not save a snapshot (${(err as Error).message}); this run goes on without one`);
  }
}

export interface Restoring {
  /** The devmap.job port, for the services to listen on before QEMU starts. */
  channels: Record<string, Channel>;
  /**
   * Once QEMU (started with snapshot: 'restore') runs: loads the snapshot,
   * puts the host's ivshmem data back, starts the guest, sends the job.
   * Any failure is ERR_DEVMAP_RESTORE (withSnapshot then boots).
   */
  run(q: { qmp: Promise<Qmp>; exited: Promise<unknown>; stderr: () => string; started: number }): Promise<void>;
}

/**
 * A restore of `e`, then the `job` sent (none for a snapshot taken with its
 * command); `shm` (the ivshmem file) is read now, before QEMU can write into it.
 */
export function restoring(e: SnapshotEntry, job: string | undefined, log: Log, shm: { path: string; size: number } | undefined): Restoring {
  const putBack = keepHostData(shm);
  const port = jobPort(() => undefined);
  const run = async (q: Parameters<Restoring['run']>[0]): Promise<void> => {
    const said = (): string => q.stderr().trim().split('\n').slice(-2).join(' ');
    const fail = q.exited.then((c) => Promise.reject(new Error(`QEMU ended with ${String(c)}`)));
    const timer = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer within 60 s')), 60_000).unref());
    try {
      const qmp = await Promise.race([q.qmp, fail, timer]);
      await Promise.race([restoreSnapshot(qmp, e, putBack, q.exited), fail, timer]);
      if (job) sendJob(await Promise.race([port.socket, fail, timer]), job);
    } catch (err) {
      putBack();
      throw devmapError('ERR_DEVMAP_RESTORE', `${(err as Error).message}${said() ? `: ${said()}` : ''}`);
    }
    log(`restored a snapshot (${Date.now() - q.started} ms): ${e.file}`);
  };
  return { channels: job ? { [JOB_PORT]: port.channel } : {}, run };
}
