// A guest saved at the point where /init waits for its command, and restored
// instead of booted (devmap guest run --snapshot): which machines can, where
// a configuration's snapshot lives and what its key holds, and the policy --
// restore if there is one, else (or if it does not load) boot and take it.
// Saving and loading through QEMU is vmstate.ts. docs/guests.md "Snapshots"
// has the measurements and the choices.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
import { cacheDir, sha256, type Log } from '../image/cache.js';
import { MACHINES, type Machine } from '../machines/machines.js';

/** Bumped when what a snapshot holds or how it is taken changes. */
const FORMAT = 1;

/** Machines a snapshot can be taken of: one x86_64 guest without an ivshmem server. */
export function snapshotMachines(): string[] {
  return Object.values(MACHINES).filter((m) => m.arch === 'x86_64' && !m.guests && !m.ivshmemServer).map((m) => m.name);
}

/** Throws, naming the machines that can, unless `m` (with these options) can be snapshotted. */
export function checkSnapshot(m: Machine, o: { ivshmemServer?: string; mode?: string }): void {
  const ok = snapshotMachines();
  if (!ok.includes(m.name)) {
    const why = m.arch !== 'x86_64' ? `${m.arch} guests` : m.guests ? 'machines with several guests' : 'machines with an ivshmem server';
    throw devmapError('ERR_DEVMAP_SNAPSHOT', `--snapshot: not for machine ${m.name} (${why} are not supported yet); it works on ${ok.join(', ')}`);
  }
  if (o.ivshmemServer) throw devmapError('ERR_DEVMAP_SNAPSHOT', '--snapshot: not with --ivshmem-server (the server\'s peer state cannot be restored); drop one of them');
  if (o.mode === 'shell') throw devmapError('ERR_DEVMAP_SNAPSHOT', '--snapshot: only for guest run, not guest shell');
}

/** How many snapshots are kept; the least recently used go first. */
const KEEP = 6;

/** Where snapshots are kept: $DEVMAP_SNAPSHOTS, else $DEVMAP_CACHE/snapshots (one file per configuration, ~200 MiB each). */
export function snapshotDir(): string {
  return process.env.DEVMAP_SNAPSHOTS || join(cacheDir(), 'snapshots');
}

export interface SnapshotEntry {
  /** The saved VM state. */
  file: string;
  /** Its size once complete, to catch a truncated file before QEMU reads it. */
  meta: string;
}

/**
 * Where the snapshot of a configuration lives: keyed by everything that
 * goes into the guest -- the machine entry, the accelerator, the QEMU
 * binary's full version line, the kernel and base image (their paths are
 * content-keyed), and the snapshot boot's overlay (modules, --kmod bytes,
 * --kparam, the ivshmem size).
 */
export function snapshotEntry(parts: { m: Machine; accel: string; qemu: string; kernel: string; initrd: string; overlay: string }): SnapshotEntry {
  const version = spawnSync(parts.qemu, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  const key = sha256(String(FORMAT), JSON.stringify(parts.m), parts.accel, parts.qemu, version, parts.kernel, parts.initrd, readFileSync(parts.overlay)).slice(0, 20);
  const base = join(snapshotDir(), `${parts.m.name}-${key}`);
  return { file: `${base}.vmstate`, meta: `${base}.json` };
}

/** Whether a complete snapshot is there; a file of the wrong size is not. */
export function haveSnapshot(e: SnapshotEntry): boolean {
  if (!existsSync(e.file) || !existsSync(e.meta)) return false;
  try {
    return (JSON.parse(readFileSync(e.meta, 'utf8')) as { size?: number }).size === statSync(e.file).size;
  } catch {
    return false;
  }
}

/**
 * Removes all but the `keep` most recently used snapshots: a new base image
 * (a rebuilt dist/, a new kernel) makes a new key, and each file is ~200 MiB.
 */
export function pruneSnapshots(keep = KEEP): void {
  const dir = snapshotDir();
  if (!existsSync(dir)) return;
  const age = (f: string): number => statSync(join(dir, f), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const names = readdirSync(dir);
  const files = names.filter((f) => f.endsWith('.vmstate')).map((f) => ({ f, t: age(f) }));
  for (const { f } of files.sort((a, b) => b.t - a.t).slice(keep)) discardSnapshot({ file: join(dir, f), meta: join(dir, f.replace(/\.vmstate$/, '.json')) });
  // A save that was killed leaves its temp file; one older than an hour is nobody's.
  for (const f of names.filter((n) => /\.tmp-[\d-]+$/.test(n) && age(n) < Date.now() - 3_600_000)) rmSync(join(dir, f), { force: true });
}

export function discardSnapshot(e: SnapshotEntry): void {
  rmSync(e.meta, { force: true });
  rmSync(e.file, { force: true });
}

/**
 * Runs `boot` restoring `e` if it is there; a restore that fails
 * (ERR_DEVMAP_RESTORE: QEMU changed, a corrupt file) is said once, the file
 * discarded, and `boot` runs again to boot and take a new one.
 */
export async function withSnapshot<R>(e: SnapshotEntry, log: Log, boot: (restore: boolean) => Promise<R>): Promise<R> {
  if (haveSnapshot(e)) {
    try {
      const now = new Date();
      utimesSync(e.file, now, now);
      return await boot(true);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_DEVMAP_RESTORE') throw err;
      log(`could not restore the snapshot ${e.file} (${(err as Error).message}); discarded it, booting instead`);
    }
  }
  discardSnapshot(e);
  try {
    return await boot(false);
  } finally {
    pruneSnapshots();
  }
}
