// Boots one guest, runs one command in it, and brings back its output and
// exit status. Every boot has a hard timeout; a panic, a hang or a QEMU
// failure is a failed run with the reason and the last console lines; the
// QEMU process, its sockets and a fresh /dev/shm file are removed on every
// exit path (cleanup.ts covers Ctrl-C and SIGTERM). The sockets QEMU
// connects to are services.ts. With `snapshot`, a run restores a saved
// guest instead of booting, or boots and saves one (snapshot.ts, vmstate.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, appendFileSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { haveCommand, stderrLog, type Log } from '../image/cache.js';
import { prepareImage, type GuestImage } from '../image/image.js';
import { buildUserModule } from '../image/kmods.js';
import { writeOverlay, type OverlayOptions } from '../image/overlay.js';
import { seededDtb } from '../image/dtb.js';
import { pickAccel } from './accel.js';
import { qemuArgs, qemuBinary, qemuVersion, type Accel } from './args.js';
import { onCleanup } from './cleanup.js';
import { ConsoleLog } from './console.js';
import { prepareHostFile, type IvshmemFile } from '../../ivshmem/host-file.js';
import { ARCHES, findMachine, type Machine } from '../machines/machines.js';
import type { HostOp } from './hostport.js';
import { HostServices } from './services.js';
import { checkSnapshot, snapshotEntry, withSnapshot, type SnapshotEntry } from './snapshot.js';
import { restoring, saveNow, savingPort } from './vmstate.js';

export interface GuestRunOptions extends Omit<OverlayOptions, 'hold' | 'ivshmemSize' | 'mode' | 'kmods' | 'snapshot'> {
  mode?: 'run' | 'shell';
  /** Folders of your own kernel modules: built against the guest kernel, brought in and loaded before the command (`--kmod`). */
  kmodDirs?: string[];
  machine?: string;
  /** Debian suite of the guest kernel: bookworm, trixie or sid (default $DEVMAP_KERNEL, else the default suite). */
  kernel?: string;
  image?: GuestImage;
  /** Hard limit for the whole boot, in ms. */
  timeoutMs?: number;
  /** Back the ivshmem BAR with this host file (created at `size` if missing, kept). Default: a fresh /dev/shm file, removed. */
  ivshmem?: { path: string; size?: number };
  /** Save the screen as PNG (QMP screendump) right after the command. */
  screendump?: string;
  accel?: Accel;
  /** Socket of the ivshmem server for the machine's ivshmem-doorbell device (machine.ivshmemServer). */
  ivshmemServer?: string;
  /**
   * On a machine without one: add an ivshmem-doorbell device with this many
   * vectors (the server's) at PCI slot 7, connected to `ivshmemServer`.
   */
  doorbellVectors?: number;
  /**
   * Restore this configuration's cached snapshot instead of booting; without
   * one, boot, save the guest where /init waits for its command, and go on
   * (snapshot.ts). x86_64 single-guest machines only (checkSnapshot).
   */
  snapshot?: boolean;
  /**
   * Where the snapshot is taken: 'init' (default) where /init waits for the
   * command, which then comes over devmap.job; 'command' once the command
   * itself is ready, when the caller calls `control.save()` -- the command,
   * its cwd, env and --with files are part of the snapshot (and its key),
   * so what changes per run must reach it another way (the vitest pool
   * sends it over its own port).
   */
  snapshotAt?: 'init' | 'command';
  /** Called before QEMU starts with what the caller can do to this boot (snapshotAt 'command'). */
  control?: (c: GuestControl) => void;
  /** Extra or replaced operations of the devmap.host port (see hostport.ts). */
  hostOps?: Record<string, HostOp>;
  /** More virtio-serial ports (needs machine.hostPort): guest port name → called with QEMU's connection. */
  channels?: Record<string, (socket: Socket) => void>;
  /** The command's output, as it arrives. */
  onOutput?: (text: string) => void;
  log?: Log;
}

/** A boot's handle for its caller. */
export interface GuestControl {
  /** Whether this boot restores a snapshot (its command is past the point where `save` was called). */
  restored: boolean;
  /** Settles once the guest runs: at once for a boot, after the load for a restore (rejects if it fails). */
  running: Promise<void>;
  /**
   * Saves the guest now (snapshotAt 'command', a boot that takes the
   * snapshot; a no-op otherwise). Never rejects: a save that fails is logged
   * and the run goes on without one.
   */
  save(): Promise<void>;
}

export type Outcome = 'exited' | 'panic' | 'timeout' | 'qemu-failed' | 'no-status';

export interface GuestResult {
  outcome: Outcome;
  /** The command's exit status (outcome 'exited'). */
  status: number | null;
  /** Why the run failed, for people; empty when the command exited. */
  reason: string;
  console: ConsoleLog;
  accel: Accel;
  machine: string;
  /** When QEMU was spawned (ms since the epoch). */
  startedAt: number;
  /** ms from spawning QEMU to the command's start (a restored guest: to QEMU's exit), and to QEMU's exit. */
  bootMs: number;
  totalMs: number;
}

/** How a run ended, and why for people: the exit status first, then a panic, the timeout, QEMU's own failure. */
function verdict(status: number | null, panic: string | undefined, timedOutAfterMs: number | undefined, code: string | number, stderr: string): [Outcome, string] {
  if (status !== null) return ['exited', ''];
  if (panic) return ['panic', `the guest kernel panicked: ${panic}`];
  if (timedOutAfterMs !== undefined) return ['timeout', `the guest did not finish within ${timedOutAfterMs / 1000} s (hung?); killed`];
  if (code !== 0) return ['qemu-failed', `QEMU ended with ${code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`];
  return ['no-status', 'the guest powered off without reporting an exit status'];
}

/** What a run settles before its boot: the machine, its image, the user's modules, the accelerator. */
interface Plan {
  log: Log;
  m: Machine;
  image: GuestImage;
  kmods: string[];
  accel: Accel;
}

/** A boot in snapshot mode: the snapshot's file, the overlay it boots with, and whether this boot restores it or takes it. */
interface Snap {
  entry: SnapshotEntry;
  overlay: string;
  restore: boolean;
  at: 'init' | 'command';
}

/** One boot: the run's plan and what it leaves on the host, removed on every exit path. */
interface Boot extends Plan {
  o: GuestRunOptions;
  /** Scratch folder: initrd, sockets, seeded dtb. */
  dir: string;
  shm: IvshmemFile | undefined;
  snap?: Snap;
  child?: ChildProcess;
}

/** QEMU, running: its console, its stderr so far, and its exit code or signal once it closes. */
interface Qemu {
  child: ChildProcess;
  con: ConsoleLog;
  started: number;
  stderr: () => string;
  exited: Promise<string | number>;
}

async function plan(o: GuestRunOptions): Promise<Plan> {
  const log = o.log ?? stderrLog;
  const m = findMachine(o.machine);
  const image = o.image ?? prepareImage(m.arch, log, o.kernel);
  const probe = async (pm: Machine, timeoutMs: number): Promise<{ ok: boolean; ms: number; why: string }> => {
    const r = await runGuest({ machine: pm.name, image, accel: 'kvm', command: ['true'], timeoutMs, log: () => {} });
    return { ok: r.outcome === 'exited' && r.status === 0, ms: r.totalMs, why: r.reason };
  };
  // Before the KVM probe: a module that does not compile should fail at once.
  const kmods = (o.kmodDirs ?? []).flatMap((d) => buildUserModule(image.kernel, d, log, ARCHES[m.arch]));
  const accel = o.accel ?? (await pickAccel(image, m, log, probe));
  return { log, m, image, kmods, accel };
}

function removeBoot(b: Boot): void {
  b.child?.kill('SIGKILL');
  rmSync(b.dir, { recursive: true, force: true });
}

function overlayOptions(o: GuestRunOptions, kmods: string[], shm: IvshmemFile | undefined): OverlayOptions {
  return {
    mode: o.mode ?? 'run', command: o.command, cwd: o.cwd, env: o.env, with: o.with,
    hold: Boolean(o.screendump), ivshmemSize: shm?.size, kmods, kparams: o.kparams,
  };
}

/**
 * Base image + this boot's overlay, concatenated: the kernel unpacks both.
 * In snapshot mode the command's overlay becomes the job (job.cpio, sent
 * over devmap.job; its modules are in the snapshot already), the initrd
 * carries the snapshot's overlay, and a restore needs no initrd of its own.
 */
function writeInitrd(b: Boot): string {
  const { dir } = b;
  const initrd = join(dir, 'initrd.cpio');
  const opts = overlayOptions(b.o, b.kmods, b.shm);
  if (b.snap?.at === 'init') writeOverlay(join(dir, 'job.cpio'), b.image, b.m, { ...opts, kmods: [] });
  else writeOverlay(join(dir, 'overlay.cpio'), b.image, b.m, opts);
  if (b.snap?.restore) return b.image.initrd;
  copyFileSync(b.image.initrd, initrd);
  appendFileSync(initrd, readFileSync(b.snap ? b.snap.overlay : join(dir, 'overlay.cpio')));
  return initrd;
}

const shmOf = (b: Boot): { ivshmem?: { path: string; size: number } } => (b.shm ? { ivshmem: { path: b.shm.path, size: b.shm.size } } : {});

function bootArgs(b: Boot, initrd: string, services: HostServices): string[] {
  const { o, m, image } = b;
  return qemuArgs(m, {
    accel: b.accel, kernel: m.kernelImage === 'bzImage' ? image.kernel.bzImage : image.kernel.vmlinux, initrd, console: o.mode === 'shell' ? 'tty' : 'pipe',
    statusSocket: services.sockets.status, qmpSocket: services.sockets.qmp, hostSocket: services.sockets.host, channels: services.channels,
    ...shmOf(b),
    ...(o.ivshmemServer ? { ivshmemServer: o.ivshmemServer } : {}),
    ...(o.doorbellVectors ? { doorbellVectors: o.doorbellVectors } : {}),
    ...(m.dtb ? { dtb: seededDtb(image.kernel, m.dtb, join(b.dir, 'board.dtb')) } : {}),
    ...(b.snap ? { snapshot: b.snap.restore ? 'restore' : 'save' } as const : {}),
    qemuVersion: qemuVersion(qemuBinary(m)),
  });
}

function startQemu(b: Boot, args: string[]): Qemu {
  const tty = b.o.mode === 'shell';
  // setpriv: QEMU dies with us even if we are SIGKILLed and cannot clean up.
  const wrap = haveCommand('setpriv') ? ['setpriv', '--pdeathsig', 'KILL', '--', qemuBinary(b.m)] : [qemuBinary(b.m)];
  const started = Date.now();
  const con = new ConsoleLog(b.o.onOutput);
  let stderr = '';
  const child = (b.child = spawn(wrap[0]!, [...wrap.slice(1), ...args], { stdio: tty ? 'inherit' : ['ignore', 'pipe', 'pipe'] }));
  child.stdout?.setEncoding('utf8').on('data', (d: string) => con.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<string | number>((r) => child.once('close', (code, signal) => r(code ?? `signal ${signal}`)));
  child.once('error', () => undefined);
  return { child, con, started, stderr: () => stderr, exited };
}

/** Once the status is in: let the console catch up, take the screenshot, and stop QEMU rather than waiting for the guest's power-off. */
async function wrapUp(b: Boot, qemu: Qemu, services: HostServices): Promise<void> {
  await qemu.con.waitEnd(2000);
  const q = await Promise.race([services.qmpUp, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref())]);
  if (q && b.o.screendump) await q.screendump(b.o.screendump).catch((e: Error) => b.log(`screendump failed: ${e.message}`));
  if (q) await q.quit().catch(() => undefined);
}

/** Waits for QEMU to close, killing it at the timeout; `endedAt` is when it closed. */
async function awaitEnd(b: Boot, qemu: Qemu, services: HostServices): Promise<{ code: string | number; timedOutAfterMs: number | undefined; endedAt: number }> {
  let timedOut = false;
  const timeoutMs = b.o.timeoutMs ?? 120_000;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.child.kill('SIGKILL');
  }, timeoutMs);
  void services.statusSeen.then(() => wrapUp(b, qemu, services));
  const code = await Promise.race([qemu.exited, services.statusSeen.then(() => qemu.exited)]);
  clearTimeout(timer);
  return { code, timedOutAfterMs: timedOut ? timeoutMs : undefined, endedAt: Date.now() };
}

async function boot(b: Boot, services: HostServices): Promise<GuestResult> {
  const initrd = writeInitrd(b);
  const job = b.snap?.at === 'init' ? join(b.dir, 'job.cpio') : undefined;
  const restore = b.snap?.restore ? restoring(b.snap.entry, job, b.log, b.shm) : undefined;
  const jobPort = restore?.channels ?? (b.snap && job ? savingPort(b.snap.entry, job, b.log, services.qmpUp) : {});
  const snap = b.snap;
  let resumed!: () => void;
  let notResumed!: (e: unknown) => void;
  const running = new Promise<void>((res, rej) => ([resumed, notResumed] = [res, rej]));
  running.catch(() => undefined);
  b.o.control?.({
    restored: Boolean(snap?.restore),
    running,
    save: () => (snap && snap.at === 'command' && !snap.restore ? saveNow(snap.entry, b.log, services.qmpUp) : Promise.resolve()),
  });
  await services.start({ hostPort: Boolean(b.m.hostPort), ...shmOf(b), hostOps: b.o.hostOps, channels: { ...jobPort, ...b.o.channels } });
  const qemu = startQemu(b, bootArgs(b, initrd, services));
  await restore?.run({ qmp: services.qmpUp, exited: qemu.exited, stderr: qemu.stderr, started: qemu.started }).catch((e: unknown) => {
    notResumed(e);
    throw e;
  });
  resumed();
  const { code, timedOutAfterMs, endedAt } = await awaitEnd(b, qemu, services);
  const totalMs = endedAt - qemu.started;
  const bootMs = qemu.con.startedAt ? qemu.con.startedAt - qemu.started : totalMs;
  writeFileSync(join(b.dir, 'console.log'), qemu.con.text);
  const [outcome, reason] = verdict(services.status, qemu.con.panicLine(), timedOutAfterMs, code, qemu.stderr());
  return { outcome, status: services.status, reason, console: qemu.con, accel: b.accel, machine: b.m.name, startedAt: qemu.started, bootMs, totalMs };
}

async function bootOnce(p: Plan, o: GuestRunOptions, shm: IvshmemFile | undefined, snap?: Snap): Promise<GuestResult> {
  const dir = mkdtempSync(join(tmpdir(), 'devmap-'));
  const b: Boot = { ...p, o, dir, shm, ...(snap ? { snap } : {}) };
  const undo = onCleanup(() => removeBoot(b));
  const services = new HostServices(dir);
  try {
    return await boot(b, services);
  } finally {
    services.close();
    undo();
    removeBoot(b);
  }
}

/** Snapshot mode: restore the configuration's snapshot if there is one and it loads, else boot and take it. */
async function runFromSnapshot(p: Plan, o: GuestRunOptions, shm: IvshmemFile | undefined): Promise<GuestResult> {
  const dir = mkdtempSync(join(tmpdir(), 'devmap-'));
  const undo = onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const overlay = join(dir, 'snapshot.cpio');
    const at = o.snapshotAt ?? 'init';
    // At 'init' the snapshot holds the guest without the command (it comes as the job); at 'command', with it.
    if (at === 'init') writeOverlay(overlay, p.image, p.m, { ...overlayOptions({ ...o, command: [], cwd: undefined, env: {}, with: [], screendump: undefined }, p.kmods, shm), snapshot: true });
    else writeOverlay(overlay, p.image, p.m, overlayOptions(o, p.kmods, shm));
    const entry = snapshotEntry({ m: p.m, accel: p.accel, qemu: qemuBinary(p.m), kernel: p.m.kernelImage === 'bzImage' ? p.image.kernel.bzImage : p.image.kernel.vmlinux, initrd: p.image.initrd, overlay });
    return await withSnapshot(entry, p.log, (restore) => bootOnce(p, o, shm, { entry, overlay, restore, at }));
  } finally {
    undo();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runGuest(o: GuestRunOptions): Promise<GuestResult> {
  if (o.snapshot) checkSnapshot(findMachine(o.machine), o);
  const p = await plan(o);
  const shm = p.m.ivshmem ? prepareHostFile(o.ivshmem, p.m.ivshmem.size) : undefined;
  const undo = onCleanup(() => shm?.remove());
  try {
    return await (o.snapshot ? runFromSnapshot(p, o, shm) : bootOnce(p, o, shm));
  } finally {
    undo();
    shm?.remove();
  }
}
