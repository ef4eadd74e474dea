// The per-boot part of the guest root: a small second cpio archive that the
// runner appends to the cached base image (the kernel unpacks concatenated
// archives in order). It carries the command, its environment and any
// --with host files, so the 150 MB base is never rebuilt for a new command.
import { posix } from 'node:path';

import { devmapError, typeError } from '../../errors.js';
import { shellQuote } from './cache.js';
import type { Machine } from '../machines/machines.js';
import { writeCpio } from './cpio.js';
import { FileSet } from './files.js';
import type { GuestImage } from './image.js';
import { guestModulePath, resolveModules } from './kdeps.js';
import { GUEST_KMODS, guestSmoke } from './rootfs.js';

export interface OverlayOptions {
  mode: 'run' | 'shell';
  command: string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Host files/programs to bring in at the same path. */
  with?: string[];
  /** Keep the guest alive after the command so the host can take a screendump. */
  hold?: boolean;
  ivshmemSize?: number;
  /** A driver writer's .ko files (host paths; `--kmod`): brought in and loaded after ours, in this order; one that does not load fails the run. */
  kmods?: string[];
  /** More insmod arguments by module name (`--kparam NAME.PARAM=VALUE`), after the machine's. */
  kparams?: Record<string, string>;
  /**
   * The boot of a snapshot (lib/harness/qemu/snapshot.ts): /init gets the
   * guest ready, then waits on the devmap.job port for the run's own overlay
   * (this function's output for the command) and the host's time.
   */
  snapshot?: boolean;
}

const quote = (s: string): string => shellQuote([s]);

/** --kparam mydrv.debug=1 --kparam mydrv.size=4096 -> { mydrv: 'debug=1 size=4096' } */
export function parseKparams(list: string[] | undefined, what = '--kparam'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list ?? []) {
    const m = /^([A-Za-z0-9_-]+)\.(\w+)=(\S*)$/.exec(p);
    if (!m) throw typeError(`${what} ${JSON.stringify(p)}: want MODULE.PARAM=VALUE without spaces, e.g. devmap_edu.dma_bits=32`);
    const mod = m[1]!.replace(/-/g, '_');
    out[mod] = [out[mod], `${m[2]}=${m[3]}`].filter(Boolean).join(' ');
  }
  return out;
}


/** The module load order: Debian's for the machine, then ours in native/kmod order. */
export function moduleLoadList(image: GuestImage, m: Machine): string[] {
  return [
    ...resolveModules(image.kernel.modules, m.debianModules).map((ko) => `/lib/modules/${image.kernel.abi}/kernel/${guestModulePath(ko)}`),
    ...image.modules.flatMap((b) => b.kos.map((ko) => posix.join(GUEST_KMODS, posix.basename(ko)))),
  ];
}

export function writeOverlay(out: string, image: GuestImage, m: Machine, o: OverlayOptions): void {
  const fs = new FileSet();
  // The command's folder exists even if nothing was brought into it.
  if (o.cwd) fs.add({ type: 'dir', path: o.cwd });
  for (const p of o.with ?? []) fs.hostProgram(p);
  const userKos = (o.kmods ?? []).map((ko) => posix.join(GUEST_KMODS, posix.basename(ko)));
  const ours = new Set(moduleLoadList(image, m).map((p) => posix.basename(p)));
  for (const [i, ko] of (o.kmods ?? []).entries()) {
    if (ours.has(posix.basename(ko)) || userKos.indexOf(userKos[i]!) !== i) {
      throw devmapError('ERR_DEVMAP_KMOD', `--kmod: two modules named ${posix.basename(ko)}; the kernel loads a name once: rename one`);
    }
    fs.file(ko, userKos[i]!);
  }
  const kparams: Record<string, string> = { ...m.moduleParams };
  for (const [mod, p] of Object.entries(o.kparams ?? {})) kparams[mod] = [kparams[mod], p].filter(Boolean).join(' ');
  const env: Record<string, string> = {
    DEVMAP_MACHINE: m.name,
    ...(m.ivshmem ? { DEVMAP_IVSHMEM_BDF: `0000:00:${m.ivshmem.addr.toString(16).padStart(2, '0')}.0` } : {}),
    ...(o.ivshmemSize ? { DEVMAP_IVSHMEM_SIZE: String(o.ivshmemSize) } : {}),
    // The modules' C smoke tests: DEVMAP_IVSHMEM_SMOKE, DEVMAP_EDU_SMOKE, ...
    ...Object.fromEntries(image.modules.filter((b) => b.smoke).map((b) => [`DEVMAP_${posix.basename(b.dir).toUpperCase().replace(/\W/g, '_')}_SMOKE`, guestSmoke(b)])),
    ...o.env,
  };
  const lines = [
    `DEVMAP_MODULES=${quote(moduleLoadList(image, m).join(' '))}`,
    `DEVMAP_USER_MODULES=${quote(userKos.join(' '))}`,
    ...Object.entries(kparams).map(([mod, params]) => `DEVMAP_KPARAMS_${mod.replace(/\W/g, '_')}=${quote(params)}`),
    `DEVMAP_MODE=${o.mode}`,
    `DEVMAP_SNAPSHOT=${o.snapshot ? 1 : ''}`,
    `DEVMAP_CWD=${quote(o.cwd ?? '/root')}`,
    `DEVMAP_HOLD=${o.hold ? 1 : ''}`,
    `DEVMAP_FBCON=${m.fbcon ?? 'detached'}`,
    `DEVMAP_STATUS=${!m.status ? 'ttyS1' : 'virtio' in m.status ? 'virtio:devmap.status' : m.status.serial}`,
    ...Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`),
  ];
  fs.add({ type: 'data', path: '/etc/devmap/run.env', data: lines.join('\n') + '\n' });
  fs.add({ type: 'data', path: '/etc/devmap/cmd', data: shellQuote(o.command) + '\n', mode: 0o755 });
  writeCpio(out, fs.sorted());
}
