// Debian packages for a guest: the kernel of a suite (image, modules,
// headers, kbuild) and busybox, plus a foreign arch's Node, pinned per suite
// and arch in qemu/guest.lock.json (lock.ts). Old kernel ABIs leave the
// archive, so the .debs are cached by name and version; a pin that is
// neither cached nor in the archive any more gives way to the current kernel
// for that run, loudly, and only `devmap guest lock --update` moves the pin.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { SUITES, USERLAND_SUITE } from '../machines/suites.js';
import { debName } from './apt.js';
import { cacheDir, type Log } from './cache.js';
import { isForeign } from './foreign.js';
import { lockPath, pinOf, readLock, withPin, writeLock, type GuestPackages } from './lock.js';
import { currentAbi, resolveCurrent, suiteApt, targetName, type Target } from './resolve.js';

export type { GuestPackages } from './lock.js';
export type { Target } from './resolve.js';
export { debName } from './apt.js';

/** What choosing, checking and pinning packages asks of apt; tests replace it. */
export interface AptLookup {
  /** Do the lists of the suite the package comes from still have pkg=version? */
  has(t: Target, pkg: string, version: string, userland: boolean): boolean;
  /** The ABI of the suite's current kernel for the arch, or undefined if apt's lists lack it. */
  currentAbi(t: Target): string | undefined;
  /** The archive's current packages for the target (fetches the lists first if it must). */
  current(t: Target, log: Log): GuestPackages;
  /** Fetches the suite's lists (and the userland suite's) if missing or stale, or `force`d; false when it did not run. */
  update(t: Target, log: Log, force: boolean): boolean;
}

/** The lock file, the .deb cache and apt. */
export interface PackageSys {
  apt: AptLookup;
  lockFile: string;
  debDir: string;
}

const systemApt: AptLookup = {
  has: (t, n, v, userland) => suiteApt(userland ? SUITES[USERLAND_SUITE] : t.suite).has(n, v),
  currentAbi,
  current: (t, log) => resolveCurrent(t, isForeign(t.arch), log),
  update: (t, log, force) => {
    const ran = suiteApt(t.suite).update(log, { force });
    return (isForeign(t.arch) && suiteApt(SUITES[USERLAND_SUITE]).update(log, { force })) || ran;
  },
};

const system = (): PackageSys => ({ apt: systemApt, lockFile: lockPath(), debDir: join(cacheDir(), 'debs') });

const isCached = (sys: PackageSys, pkg: string, version: string): boolean => existsSync(join(sys.debDir, debName(pkg, version)));

/** Every pinned package as [name, version, from the userland suite?]. */
const pinList = (pin: GuestPackages | undefined): [string, string, boolean][] => [
  ...Object.entries(pin?.packages ?? {}).map(([n, v]): [string, string, boolean] => [n, v, false]),
  ...Object.entries(pin?.userland ?? {}).map(([n, v]): [string, string, boolean] => [n, v, true]),
];

const PIN_IT = 'run "devmap guest lock --update" to pin it';

/**
 * The packages for this run: the lock's pin while each of its .debs is
 * cached or in the archive (apt is not asked when all are cached);
 * otherwise, or with no pin, the archive's current kernel, said in one line.
 * Never writes the lock file: `devmap guest lock --update` does.
 */
export function choosePackages(t: Target, log: Log, sys: PackageSys = system()): GuestPackages {
  const pin = pinOf(readLock(sys.lockFile), targetName(t));
  if (!pin) {
    const cur = sys.apt.current(t, log);
    log(`the lock file pins no ${targetName(t)} kernel; using the current one, ${cur.abi}, for this run; ${PIN_IT}`);
    return cur;
  }
  const uncached = pinList(pin).filter(([n, v]) => !isCached(sys, n, v));
  // A cold cache has no lists to look in yet; update() fetches them only when missing or stale.
  if (uncached.length) sys.apt.update(t, log, false);
  const missing = uncached.filter(([n, v, u]) => !sys.apt.has(t, n, v, u)).map(([n, v]) => `${n}=${v}`);
  if (!missing.length) return pin;
  const cur = sys.apt.current(t, log);
  log(`locked ${targetName(t)} kernel ${pin.abi} is gone from the archive (neither cached nor in apt's lists: ${missing.join(' ')}); using ${cur.abi} for this run; ${PIN_IT}`);
  return cur;
}

export interface PinStatus {
  target: string;
  pin?: GuestPackages;
  /** The archive's current kernel ABI; undefined when the suite's lists lack it (then `gone` is not known). */
  current?: string;
  /** Pinned packages apt's lists no longer have, as name=version. */
  gone: string[];
  /** Each pinned .deb is cached here or in apt's lists, so runs here keep using the pin. */
  kept: boolean;
}

/** What `devmap guest lock` shows for a target. Fetches missing lists, writes no lock. */
export function pinStatus(t: Target, sys: PackageSys = system(), log: Log = () => {}): PinStatus {
  sys.apt.update(t, log, false);
  const pin = pinOf(readLock(sys.lockFile), targetName(t));
  const current = sys.apt.currentAbi(t);
  const pins = pinList(pin).map(([n, v, u]) => ({ name: `${n}=${v}`, cached: isCached(sys, n, v), listed: current !== undefined && sys.apt.has(t, n, v, u) }));
  return {
    target: targetName(t), pin, current,
    gone: current ? pins.filter((p) => !p.listed).map((p) => p.name) : [],
    kept: pin !== undefined && pins.every((p) => p.cached || p.listed),
  };
}

/**
 * `devmap guest lock --update`: pins the archive's current packages for
 * each target and writes the lock file once all are resolved (all or
 * nothing), if anything changed.
 */
export function updateLock(targets: Target[], log: Log, sys: PackageSys = system()): { target: string; from?: string; to: string; changed: boolean }[] {
  let lock = readLock(sys.lockFile);
  const changes = targets.map((t) => {
    sys.apt.update(t, log, true);
    const cur = sys.apt.current(t, log);
    const old = pinOf(lock, targetName(t));
    lock = withPin(lock, targetName(t), cur);
    return { target: targetName(t), from: old?.abi, to: cur.abi, changed: JSON.stringify(old) !== JSON.stringify(cur) };
  });
  if (changes.some((c) => c.changed)) writeLock(lock, sys.lockFile);
  return changes;
}

/**
 * The chosen packages as cached .deb files, downloading what is not cached
 * from the suite each comes from. Network is touched only when a .deb is missing.
 */
export function fetchGuestPackages(t: Target, log: Log): { pkgs: GuestPackages; debs: Record<string, string> } {
  const sys = system();
  mkdirSync(sys.debDir, { recursive: true });
  const pkgs = choosePackages(t, log, sys);
  const debs: Record<string, string> = {};
  for (const [n, v, u] of pinList(pkgs)) {
    debs[n] = isCached(sys, n, v) ? join(sys.debDir, debName(n, v)) : suiteApt(u ? SUITES[USERLAND_SUITE] : t.suite).download(n, v, sys.debDir, log);
  }
  return { pkgs, debs };
}
