// Boots one guest, runs one command in it, and brings back its output and
// exit status. Every boot has a hard timeout; a panic, a hang or a QEMU
// failure is a failed run with the reason and the last console lines; the
// QEMU process, its sockets and a fresh /dev/shm file are removed on every
// exit path (cleanup.ts covers Ctrl-C and SIGTERM).
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, appendFileSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { haveCommand, stderrLog, type Log } from '../image/cache.js';
import { prepareImage, type GuestImage } from '../image/image.js';
import { buildUserModule } from '../image/kmods.js';
import { writeOverlay, type OverlayOptions } from '../image/overlay.js';
import { seededDtb } from '../image/dtb.js';
import { pickAccel } from './accel.js';
import { qemuArgs, qemuBinary, type Accel } from './args.js';
import { onCleanup } from './cleanup.js';
import { ConsoleLog } from './console.js';
import { prepareHostFile } from '../../ivshmem/host-file.js';
import { ARCHES, findMachine, type Machine } from '../machines/machines.js';
import { Qmp } from './qmp.js';
import { HOST_OPS, serveHostPort, type HostOp } from './hostport.js';

export interface GuestRunOptions extends Omit<OverlayOptions, 'hold' | 'ivshmemSize' | 'mode' | 'kmods'> {
  mode?: 'run' | 'shell';
  /** Folders of your own kernel modules: built against the guest kernel, brought in and loaded before the command (`--kmod`). */
  kmodDirs?: string[];
  machine?: string;
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
  /** Extra or replaced operations of the devmap.host port (see hostport.ts). */
  hostOps?: Record<string, HostOp>;
  /** More virtio-serial ports (needs machine.hostPort): guest port name → called with QEMU's connection. */
  channels?: Record<string, (socket: Socket) => void>;
  /** The command's output, as it arrives. */
  onOutput?: (text: string) => void;
  log?: Log;
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
  /** ms from spawning QEMU to the command's start, and to QEMU's exit. */
  bootMs: number;
  totalMs: number;
}

function listen(path: string, onSocket: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer(onSocket);
    srv.once('error', reject);
    srv.listen(path, () => resolve(srv));
  });
}

/** How a run ended, and why for people: the exit status first, then a panic, the timeout, QEMU's own failure. */
function verdict(status: number | null, panic: string | undefined, timedOutAfterMs: number | undefined, code: string | number, stderr: string): [Outcome, string] {
  if (status !== null) return ['exited', ''];
  if (panic) return ['panic', `the guest kernel panicked: ${panic}`];
  if (timedOutAfterMs !== undefined) return ['timeout', `the guest did not finish within ${timedOutAfterMs / 1000} s (hung?); killed`];
  if (code !== 0) return ['qemu-failed', `QEMU ended with ${code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`];
  return ['no-status', 'the guest powered off without reporting an exit status'];
}

export async function runGuest(o: GuestRunOptions): Promise<GuestResult> {
  const log = o.log ?? stderrLog;
  const m = findMachine(o.machine);
  const image = o.image ?? prepareImage(m.arch, log);
  const probe = async (pm: Machine, timeoutMs: number): Promise<{ ok: boolean; ms: number; why: string }> => {
    const r = await runGuest({ machine: pm.name, image, accel: 'kvm', command: ['true'], timeoutMs, log: () => {} });
    return { ok: r.outcome === 'exited' && r.status === 0, ms: r.totalMs, why: r.reason };
  };
  // Before the KVM probe: a module that does not compile should fail at once.
  const kmods = (o.kmodDirs ?? []).flatMap((d) => buildUserModule(image.kernel, d, log, ARCHES[m.arch]));
  const accel = o.accel ?? (await pickAccel(image, m, log, probe));
  const dir = mkdtempSync(join(tmpdir(), 'devmap-'));
  const shm = m.ivshmem ? prepareHostFile(o.ivshmem, m.ivshmem.size) : undefined;
  let child: ChildProcess | undefined;
  const undo = onCleanup(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    shm?.remove();
  });
  const servers: Server[] = [];
  let qmp: Qmp | undefined;
  try {
    // Base image + this boot's overlay, concatenated: the kernel unpacks both.
    const initrd = join(dir, 'initrd.cpio');
    writeOverlay(join(dir, 'overlay.cpio'), image, m, {
      mode: o.mode ?? 'run', command: o.command, cwd: o.cwd, env: o.env, with: o.with,
      hold: Boolean(o.screendump), ivshmemSize: shm?.size, kmods, kparams: o.kparams,
    });
    copyFileSync(image.initrd, initrd);
    appendFileSync(initrd, readFileSync(join(dir, 'overlay.cpio')));

    let status: number | null = null;
    let gotStatus!: () => void;
    const statusSeen = new Promise<void>((r) => (gotStatus = r));
    servers.push(await listen(join(dir, 'status.sock'), (s) => {
      let text = '';
      s.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        const hit = /devmap-exit-status (\d+)\r?\n/.exec(text);
        if (hit && status === null) {
          status = Number(hit[1]);
          gotStatus();
        }
      });
    }));
    let qmpReady!: (q: Qmp) => void;
    const qmpConnected = new Promise<Qmp>((r) => (qmpReady = r));
    servers.push(await listen(join(dir, 'qmp.sock'), (s) => qmpReady(new Qmp(s))));
    const qmpUp = qmpConnected.then(async (q) => {
      qmp = q;
      await q.handshake();
      return q;
    });
    qmpUp.catch(() => undefined);
    if (m.hostPort) {
      const ctx = { qmp: () => qmpUp, dir, ...(shm ? { ivshmem: { path: shm.path, size: shm.size } } : {}) };
      servers.push(await listen(join(dir, 'host.sock'), (s) => serveHostPort(s, ctx, { ...HOST_OPS, ...o.hostOps })));
    }
    const channels: Record<string, string> = {};
    for (const [i, [name, fn]] of Object.entries(o.channels ?? {}).entries()) {
      channels[name] = join(dir, `ch${i}.sock`);
      servers.push(await listen(channels[name], fn));
    }

    const tty = o.mode === 'shell';
    const args = qemuArgs(m, {
      accel, kernel: m.kernelImage === 'bzImage' ? image.kernel.bzImage : image.kernel.vmlinux, initrd, console: tty ? 'tty' : 'pipe',
      statusSocket: join(dir, 'status.sock'), qmpSocket: join(dir, 'qmp.sock'), hostSocket: join(dir, 'host.sock'), channels,
      ...(shm ? { ivshmem: { path: shm.path, size: shm.size } } : {}),
      ...(o.ivshmemServer ? { ivshmemServer: o.ivshmemServer } : {}),
      ...(o.doorbellVectors ? { doorbellVectors: o.doorbellVectors } : {}),
      ...(m.dtb ? { dtb: seededDtb(image.kernel, m.dtb, join(dir, 'board.dtb')) } : {}),
    });
    // setpriv: QEMU dies with us even if we are SIGKILLed and cannot clean up.
    const wrap = haveCommand('setpriv') ? ['setpriv', '--pdeathsig', 'KILL', '--', qemuBinary(m)] : [qemuBinary(m)];
    const started = Date.now();
    const con = new ConsoleLog(o.onOutput);
    let stderr = '';
    child = spawn(wrap[0]!, [...wrap.slice(1), ...args], { stdio: tty ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    child.stdout?.setEncoding('utf8').on('data', (d: string) => con.push(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<string | number>((r) => child!.once('close', (code, signal) => r(code ?? `signal ${signal}`)));
    child.once('error', () => undefined);

    let timedOut = false;
    const timeoutMs = o.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      timedOut = true;
      child?.kill('SIGKILL');
    }, timeoutMs);

    // Once the status is in: let the console catch up, take the screenshot,
    // and stop QEMU rather than waiting for the guest's power-off.
    void statusSeen.then(async () => {
      await con.waitEnd(2000);
      const q = await Promise.race([qmpUp, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
      if (q && o.screendump) await q.screendump(o.screendump).catch((e: Error) => log(`screendump failed: ${e.message}`));
      if (q) await q.quit().catch(() => undefined);
    });
    const code = await Promise.race([exited, statusSeen.then(() => exited)]);
    clearTimeout(timer);
    const totalMs = Date.now() - started;
    const bootMs = con.startedAt ? con.startedAt - started : totalMs;
    writeFileSync(join(dir, 'console.log'), con.text);

    const [outcome, reason] = verdict(status, con.panicLine(), timedOut ? timeoutMs : undefined, code, stderr);
    return { outcome, status, reason, console: con, accel, machine: m.name, bootMs, totalMs };
  } finally {
    qmp?.close();
    for (const s of servers) s.close();
    undo();
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    shm?.remove();
  }
}
