// The QEMU command line of a machine definition: the one place it is
// spelled, used by the runner, the KVM probe and `devmap guest args`
// (which the qemu/*.sh launch scripts call).
import { spawnSync } from 'node:child_process';

import { ARCHES, type Machine } from '../machines/machines.js';

export type Accel = 'kvm' | 'tcg';

export interface LaunchParams {
  accel: Accel;
  kernel: string;
  initrd: string;
  /** 'pipe': console on stdout for the runner; 'tty': interactive, with QEMU's monitor on Ctrl-A C. */
  console: 'pipe' | 'tty';
  /** Unix socket we listen on for the guest's exit status (ttyS1); QEMU connects. */
  statusSocket?: string;
  /** Unix socket we listen on for QMP; QEMU connects. */
  qmpSocket?: string;
  /** Unix socket we listen on for the devmap.host virtio-serial port; QEMU connects. */
  hostSocket?: string;
  /** More virtio-serial ports on the host-port bus: guest port name → socket we listen on. */
  channels?: Record<string, string>;
  /** Backing file of the ivshmem-plain BAR, and its size. */
  ivshmem?: { path: string; size: number };
  /** Socket of the ivshmem server the machine's ivshmem-doorbell device connects to. */
  ivshmemServer?: string;
  /** A machine without an ivshmem-doorbell device gets one with this many vectors (devmap guest run --ivshmem-server). */
  doorbellVectors?: number;
  /** Extra kernel command line. */
  append?: string[];
  /** Device tree for QEMU's -dtb (machine.dtb, seeded per boot: lib/harness/image/dtb.ts). */
  dtb?: string;
  /** The QEMU binary's version (qemuVersion), for options that differ between releases. */
  qemuVersion?: QemuVersion;
  /**
   * A guest whose state is saved or restored (snapshot.ts): ivshmem-plain
   * with master=on (without it the device blocks migration) and a vmgenid
   * device, whose new id at each restore makes the guest kernel reseed its
   * RNG. 'restore' also waits, paused, for migrate-incoming over QMP.
   */
  snapshot?: 'save' | 'restore';
}

/** PCI slot of the ivshmem-doorbell device `devmap guest run --ivshmem-server` adds (free on every PCI machine). */
export const DOORBELL_ADDR = 0x7;

/** Kernel arguments every guest gets: serial console, reboot (hence exit) on panic. */
export const BASE_KERNEL_ARGS = ['console=ttyS0', 'panic=-1', 'quiet'];

/**
 * Kernel arguments for a guest under TCG, by arch. x86: a loaded host makes
 * the emulated TSC look skewed, the clocksource watchdog then marks it
 * unstable and the kernel flips the sched_clock static key while the other
 * vCPU runs that code; QEMU 7.2's multi-threaded TCG can then execute the
 * int3 of the half-done patch after it is gone (seen once on 6.12 under heavy
 * load: "Oops: int3" in sched_clock_cpu, a panic at boot). tsc=reliable
 * turns that watchdog off, as is usual for virtual machines.
 * mitigations=off: TCG does not execute speculatively, so the guest's
 * speculation mitigations protect nothing there, and one of them costs a lot:
 * the emulated Nehalem is Meltdown-class, so the kernel isolates its page
 * tables (PTI) and switches CR3 on every system call and interrupt, which
 * flushes QEMU's whole software TLB each time (no PCID). Node's start-up
 * makes thousands of system calls.
 */
const TCG_KERNEL_ARGS: Record<string, string[]> = { x86_64: ['tsc=reliable', 'mitigations=off'] };

/**
 * TCG: a bigger translation-block cache avoids retranslating Node's hot code;
 * thread=multi runs each vCPU on its own host thread.
 */
const TCG_OPTS = 'tcg,thread=multi,tb-size=512';

/**
 * Kernel arguments of a guest that is saved (snapshot.ts): freed pages are
 * zeroed, so the unpacked initramfs's pages (~110 MB) are not in the saved
 * state; QEMU skips zero pages. Measured under TCG: 184 MiB instead of 288,
 * saved in 0.3 s instead of 3.1, restored in 0.4-1.0 s instead of 0.6-2.1.
 */
const SNAPSHOT_KERNEL_ARGS = ['init_on_free=1'];

export function qemuBinary(m: Machine): string {
  return ARCHES[m.arch]!.qemu;
}

/** major, minor */
export type QemuVersion = [number, number];

/** The version in `qemu-system-* --version` output ("QEMU emulator version 10.0.13 (Debian ...)"). */
export function parseQemuVersion(text: string): QemuVersion | undefined {
  const m = /version (\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

const versions = new Map<string, QemuVersion | undefined>();
/** `binary`'s version, asked once per process; undefined if it does not say. */
export function qemuVersion(binary: string): QemuVersion | undefined {
  if (!versions.has(binary)) versions.set(binary, parseQemuVersion(spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout ?? ''));
  return versions.get(binary);
}

const atLeast = (v: QemuVersion, major: number, minor: number): boolean => v[0] > major || (v[0] === major && v[1] >= minor);

export function qemuArgs(m: Machine, p: LaunchParams): string[] {
  const args = [
    '-M', m.machine,
    '-accel', p.accel === 'kvm' ? 'kvm' : TCG_OPTS,
    '-cpu', p.accel === 'kvm' ? m.cpu : m.cpuTcg,
    '-m', String(m.memMiB),
    '-smp', String(m.smp),
    '-nodefaults', '-nic', 'none', '-no-reboot', '-display', 'none',
    '-kernel', p.kernel,
    '-initrd', p.initrd,
    '-append', [...BASE_KERNEL_ARGS.map((a) => (a === 'console=ttyS0' && m.console ? `console=${m.console}` : a)), ...(p.accel === 'tcg' ? TCG_KERNEL_ARGS[m.arch] ?? [] : []), ...m.kernelArgs, ...(p.snapshot ? SNAPSHOT_KERNEL_ARGS : []), ...(p.append ?? [])].join(' '),
    '-serial', p.console === 'tty' ? 'mon:stdio' : 'stdio',
  ];
  if (p.dtb) args.push('-dtb', p.dtb);
  // Guests make no sound. From 8.2 a board with sound on it (vexpress-a9's
  // PL041) refuses to start without a host audio driver ("no default audio
  // driver available", QEMU 10 on Debian 13) unless told -audio none, which
  // 7.2 rejects without a sound card model (7.2 falls back to none by itself).
  if (p.qemuVersion && atLeast(p.qemuVersion, 8, 2)) args.push('-audio', 'none');
  // The second serial port (ttyS1) carries only the exit status; a board
  // with one UART sends it over a virtio-serial port (below).
  const statusVirtio = m.status !== undefined && 'virtio' in m.status;
  if (!statusVirtio && p.statusSocket) args.push('-chardev', `socket,id=devmap-status,path=${p.statusSocket}`, '-serial', 'chardev:devmap-status');
  else if (!statusVirtio) args.push('-serial', 'null');
  if (p.qmpSocket) args.push('-chardev', `socket,id=devmap-qmp,path=${p.qmpSocket}`, '-mon', 'chardev=devmap-qmp,mode=control');
  if (m.ivshmem && p.ivshmem) {
    args.push(
      '-object', `memory-backend-file,id=devmap-ivshmem,size=${p.ivshmem.size},share=on,mem-path=${p.ivshmem.path}`,
      '-device', `ivshmem-plain,memdev=devmap-ivshmem,addr=0x${m.ivshmem.addr.toString(16)}${p.snapshot ? ',master=on' : ''}`,
    );
  }
  // The server answers QEMU's connect during start-up (the device waits for
  // its id and the shared memory before the guest runs).
  const d = m.ivshmemServer ?? (p.doorbellVectors ? { addr: DOORBELL_ADDR, vectors: p.doorbellVectors } : undefined);
  if (d && p.ivshmemServer) {
    args.push(
      '-chardev', `socket,id=devmap-ivs,path=${p.ivshmemServer}`,
      '-device', `ivshmem-doorbell,chardev=devmap-ivs,vectors=${d.vectors},addr=0x${d.addr.toString(16)}`,
    );
  }
  if (m.hostPort && p.hostSocket) {
    args.push(
      // A PCI slot, or (boards without PCI) the first free virtio-mmio transport.
      '-device', 'addr' in m.hostPort ? `virtio-serial-pci,id=devmap-vser,addr=0x${m.hostPort.addr.toString(16)}` : 'virtio-serial-device,id=devmap-vser',
      '-chardev', `socket,id=devmap-host,path=${p.hostSocket}`,
      '-device', 'virtserialport,bus=devmap-vser.0,chardev=devmap-host,name=devmap.host',
    );
    if (statusVirtio && p.statusSocket) {
      args.push('-chardev', `socket,id=devmap-status,path=${p.statusSocket}`, '-device', 'virtserialport,bus=devmap-vser.0,chardev=devmap-status,name=devmap.status');
    }
    Object.entries(p.channels ?? {}).forEach(([name, path], i) => {
      args.push('-chardev', `socket,id=devmap-ch${i},path=${path}`, '-device', `virtserialport,bus=devmap-vser.0,chardev=devmap-ch${i},name=${name}`);
    });
  }
  if (p.snapshot) args.push('-device', 'vmgenid');
  if (p.snapshot === 'restore') args.push('-incoming', 'defer', '-S');
  return [...args, ...m.args];
}
