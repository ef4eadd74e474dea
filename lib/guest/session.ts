// The host side of a guest test run: a fresh ivshmem backing file with a
// marker at offset 0 (the guest sees it as DEVMAP_IVSHMEM_MARKER), and the
// specs' host hooks. A spec NAME.test.ts may have a sibling NAME.host.mjs
// exporting before(ctx) (runs before the boot; may return env for the
// guest) and after(ctx) (runs after the boot; throw to fail).
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

import { packageRoot } from '../native.js';
import { resolveIvshmem } from '../qemu/ivshmem-file.js';
import { findMachine } from '../qemu/runner.js';

/** How the guest ended, as the vitest pool records it (artifacts/guest-NAME.json). */
export interface GuestEnd {
  machine: string;
  accel: string;
  outcome: string;
  status: number | null;
  reason: string;
  lastLines: string;
  /** Lines of /init saying a module did not load. */
  insmodFailures: string[];
  bootMs: number;
  readyMs: number;
  totalMs: number;
}

export interface HookContext {
  machine: string;
  ivshmem: { path: string; size: number };
  marker: string;
  /** In after(): how the guest ended. */
  end?: GuestEnd;
}

export interface GuestSession extends HookContext {
  /** Environment for the guest (marker, whatever before() hooks returned). */
  env: Record<string, string>;
  hooks: { file: string; before?: (c: HookContext) => unknown; after?: (c: HookContext) => unknown }[];
}

export interface TestFailure {
  name: string;
  message: string;
}

export async function openSession(machine: string, dir = join(packageRoot, 'test', 'guest')): Promise<GuestSession> {
  const m = findMachine(machine);
  const shm = resolveIvshmem({ path: `/dev/shm/devmap-session-${process.pid}-${randomBytes(4).toString('hex')}`, size: m.ivshmem?.size ?? 1 << 20 }, 0);
  const marker = `devmap-marker-${randomBytes(8).toString('hex')}`;
  const fd = openSync(shm.path, 'r+');
  writeSync(fd, Buffer.from(marker + '\0'));
  closeSync(fd);
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.host.mjs')).sort();
  const hooks: GuestSession['hooks'] = await Promise.all(
    files.map(async (f) => ({ file: relative(packageRoot, join(dir, f)), ...((await import(pathToFileURL(join(dir, f)).href)) as Omit<GuestSession['hooks'][number], 'file'>) })),
  );
  const s: GuestSession = { machine: m.name, ivshmem: { path: shm.path, size: shm.size }, marker, env: { DEVMAP_IVSHMEM_MARKER: marker }, hooks };
  for (const h of hooks) Object.assign(s.env, ((await h.before?.(s)) as Record<string, string> | undefined) ?? {});
  return s;
}

/** Runs the after() hooks, removes the ivshmem file; returns what failed (each hook counts as one check). */
export async function closeSession(s: GuestSession, end: GuestEnd | undefined): Promise<{ passed: number; failures: TestFailure[] }> {
  const failures: TestFailure[] = [];
  let passed = 0;
  try {
    if (!end) failures.push({ name: `guest ${s.machine}`, message: 'the guest never reported how it ended (did the vitest pool start?)' });
    else if (end.outcome !== 'exited' || end.status !== 0) {
      failures.push({ name: `guest ${s.machine} run`, message: `${end.reason || `the guest worker exited with ${end.status}`}\nlast console lines:\n${end.lastLines}` });
    }
    for (const line of end?.insmodFailures ?? []) failures.push({ name: `guest ${s.machine} kernel modules`, message: line });
    for (const h of s.hooks) {
      if (!h.after) continue;
      try {
        await h.after({ ...s, ...(end ? { end } : {}) });
        passed++;
      } catch (err) {
        failures.push({ name: `${h.file} (host check after the guest run)`, message: (err as Error).message });
      }
    }
  } finally {
    rmSync(s.ivshmem.path, { force: true });
  }
  return { passed, failures };
}

/** What the vitest pool needs of a session, passed through the environment of the vitest process. */
export function sessionEnv(s: GuestSession): string {
  return JSON.stringify({ ivshmem: s.ivshmem, env: s.env });
}
