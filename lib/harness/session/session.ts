// The host side of a guest test run: a fresh ivshmem backing file with a
// marker at IVSHMEM_MARKER_AT (the guest sees it as DEVMAP_IVSHMEM_MARKER;
// test/guest/layouts.mjs keeps the specs' regions clear of it), the
// ivshmem server of a machine with an ivshmem-doorbell device, and the
// specs' host hooks. A spec NAME.test.ts may have a sibling NAME.host.mjs
// exporting before(ctx) (runs before the boot; may return env for every
// guest), guests(ctx) (env per guest role, for machines with several
// guests) and after(ctx) (runs after the guests ended; throw to fail).
// Only hooks of the specs the machine runs are loaded.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

import { packageRoot } from '../../paths.js';
import { onCleanup } from '../qemu/cleanup.js';
import { prepareHostFile } from '../../ivshmem/host-file.js';
import { findMachine, type Machine } from '../machines/machines.js';
import { startServerProcess, type ServerProcess } from './server.js';

/** How one guest ended, as the vitest pool records it (artifacts/guest-NAME[-ROLE].json). */
export interface GuestEnd {
  machine: string;
  role?: string;
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
  /** Guest roles of a machine with several guests (machine.guests), else []. */
  roles: string[];
  /** Scratch folder of the run, removed afterwards. */
  dir: string;
  /** The backing file of the machine's ivshmem-plain device; `attached` is false on machines without one (the file still exists). */
  ivshmem: { path: string; size: number; attached: boolean };
  marker: string;
  /** The ivshmem server (machine.ivshmemServer): socket, shm file, kill() to crash it on purpose. */
  server?: ServerProcess;
  /** In after(): how the guest ended (the first guest's, with several). */
  end?: GuestEnd;
  /** In after(): how each guest ended, by role ('' without roles). */
  ends?: Record<string, GuestEnd | undefined>;
}

type Hook = {
  file: string;
  before?: (c: HookContext) => unknown;
  guests?: (c: HookContext) => unknown;
  after?: (c: HookContext) => unknown;
};

export interface GuestSession extends HookContext {
  /** Environment for every guest (marker, whatever before() hooks returned). */
  env: Record<string, string>;
  /** More environment per guest role (DEVMAP_GUEST_ROLE, what guests() hooks returned). */
  roleEnv: Record<string, Record<string, string>>;
  hooks: Hook[];
  undo: () => void;
}

/** What the vitest pool needs of a session for one guest, passed in DEVMAP_SESSION. */
export interface GuestSessionEnv {
  ivshmem: { path: string; size: number };
  env: Record<string, string>;
  role?: string;
  ivshmemServer?: string;
}

export interface TestFailure {
  name: string;
  message: string;
}

/** Artifact base name of one guest: guest-MACHINE or guest-MACHINE-ROLE. */
export function guestArtifact(machine: string, role?: string): string {
  return `guest-${machine}${role ? `-${role}` : ''}`;
}

const DEFAULT_SPECS = ['test/guest/**/*.test.ts'];

/** Where the marker goes in the ivshmem backing file: test/guest/layouts.mjs PLAIN.marker (a host test checks they agree). */
export const IVSHMEM_MARKER_AT = 0;

/** The smoke set (DEVMAP_SPECS=smoke): what npm test runs on every kernel suite and arch besides the default suite's full run. */
export const SMOKE_SPECS = ['test/guest/smoke.test.ts'];

/** The machine's spec globs, in vitest's include/exclude form. */
export function machineSpecs(m: Machine): { include: string[]; exclude: string[] } {
  // DEVMAP_SPECS=full: a machine's full set where its default is a smoke set (ARM: npm run test:arm);
  // DEVMAP_SPECS=smoke: the smoke set on any machine.
  const env = process.env.DEVMAP_SPECS;
  const specs = env === 'smoke' ? { include: SMOKE_SPECS } : env === 'full' && m.fullSpecs ? m.fullSpecs : m.specs;
  return { include: specs?.include ?? DEFAULT_SPECS, exclude: specs?.exclude ?? [] };
}

/** A glob of `*`, `**` and literal characters, as a RegExp over /-separated paths. */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (glob.startsWith('**/', i)) [re, i] = [re + '(?:.*/)?', i + 2];
    else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Does the machine run the spec at `file` (relative to the project root)? */
export function runsSpec(m: Machine, file: string): boolean {
  const { include, exclude } = machineSpecs(m);
  return include.some((g) => globRegExp(g).test(file)) && !exclude.some((g) => globRegExp(g).test(file));
}

export async function openSession(machine: string, dir = join(packageRoot, 'test', 'guest')): Promise<GuestSession> {
  const m = findMachine(machine);
  const scratch = mkdtempSync(join(tmpdir(), 'devmap-session-'));
  const shm = prepareHostFile({ path: `/dev/shm/devmap-session-${process.pid}-${randomBytes(4).toString('hex')}`, size: m.ivshmem?.size ?? 1 << 20 }, 0);
  let server: ServerProcess | undefined;
  const undo = onCleanup(() => {
    server?.abandon();
    rmSync(shm.path, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  });
  try {
    const marker = `devmap-marker-${randomBytes(8).toString('hex')}`;
    const fd = openSync(shm.path, 'r+');
    writeSync(fd, Buffer.from(marker + '\0'), 0, marker.length + 1, IVSHMEM_MARKER_AT);
    closeSync(fd);
    if (m.ivshmemServer) server = await startServerProcess(scratch, m.ivshmemServer);
    const files = (readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.host.mjs') && runsSpec(m, relative(packageRoot, join(dir, f.replace(/\.host\.mjs$/, '.test.ts')))))
      .sort();
    const hooks: Hook[] = await Promise.all(
      files.map(async (f) => ({ file: relative(packageRoot, join(dir, f)), ...((await import(pathToFileURL(join(dir, f)).href)) as Omit<Hook, 'file'>) })),
    );
    const roles = m.guests ?? [];
    const s: GuestSession = {
      machine: m.name, roles, dir: scratch, ivshmem: { path: shm.path, size: shm.size, attached: m.ivshmem !== undefined }, marker,
      ...(server ? { server } : {}),
      env: { DEVMAP_IVSHMEM_MARKER: marker },
      roleEnv: Object.fromEntries(roles.map((r) => [r, { DEVMAP_GUEST_ROLE: r }])),
      hooks, undo,
    };
    for (const h of hooks) Object.assign(s.env, ((await h.before?.(s)) as Record<string, string> | undefined) ?? {});
    for (const h of hooks) {
      const per = ((await h.guests?.(s)) as Record<string, Record<string, string>> | undefined) ?? {};
      for (const [role, env] of Object.entries(per)) Object.assign((s.roleEnv[role] ??= {}), env);
    }
    return s;
  } catch (err) {
    await server?.stop();
    undo();
    rmSync(shm.path, { force: true });
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Runs the after() hooks, stops the ivshmem server, removes the files;
 * returns what failed (each hook counts as one check).
 */
export async function closeSession(s: GuestSession, ends: Record<string, GuestEnd | undefined>): Promise<{ passed: number; failures: TestFailure[] }> {
  const failures: TestFailure[] = [];
  let passed = 0;
  try {
    for (const [role, end] of Object.entries(ends)) {
      const name = `guest ${s.machine}${role ? ` ${role}` : ''}`;
      if (!end) failures.push({ name, message: 'the guest never reported how it ended (did the vitest pool start?)' });
      else if (end.outcome !== 'exited' || end.status !== 0) {
        failures.push({ name: `${name} run`, message: `${end.reason || `the guest worker exited with ${end.status}`}\nlast console lines:\n${end.lastLines}` });
      }
      for (const line of end?.insmodFailures ?? []) failures.push({ name: `${name} kernel modules`, message: line });
    }
    const first = Object.values(ends)[0];
    for (const h of s.hooks) {
      if (!h.after) continue;
      try {
        await h.after({ ...s, ...(first ? { end: first } : {}), ends });
        passed++;
      } catch (err) {
        failures.push({ name: `${h.file} (host check after the guest run)`, message: (err as Error).message });
      }
    }
  } finally {
    await s.server?.stop();
    if (s.server && (existsSync(s.server.socket) || existsSync(s.server.shmPath))) {
      failures.push({ name: `guest ${s.machine} ivshmem server`, message: `left ${s.server.socket} or ${s.server.shmPath} behind` });
    }
    rmSync(s.ivshmem.path, { force: true });
    rmSync(s.dir, { recursive: true, force: true });
    s.undo();
  }
  return { passed, failures };
}

/** What the vitest pool needs of a session for the guest `role`, passed through the environment of its vitest process. */
export function sessionEnv(s: GuestSession, role?: string): string {
  const e: GuestSessionEnv = { ivshmem: s.ivshmem, env: { ...s.env, ...(role ? s.roleEnv[role] : {}) } };
  if (role) e.role = role;
  if (s.server) e.ivshmemServer = s.server.socket;
  return JSON.stringify(e);
}
