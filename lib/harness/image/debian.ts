// Debian packages for the guest: the kernel (image, headers, kbuild) and
// busybox, fetched by name with apt-get download and pinned in
// qemu/guest.lock.json (lock.ts). Old kernel ABIs leave the archive, so the
// .debs are cached by name and version; a pin that is neither cached nor in
// the archive any more gives way to the current kernel for that run, loudly,
// and only `devmap guest lock --update` moves the pin.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';
import type { GuestArch } from '../machines/machines.js';
import { aptGetUpdate, cacheDir, run, type Log } from './cache.js';
import { ensureAptArch, hostDebArch, isForeign, resolveUserland } from './foreign.js';
import { lockPath, pinOf, readLock, withPin, writeLock, type GuestPackages } from './lock.js';

export type { GuestPackages } from './lock.js';

/**
 * The package names that go with a kernel ABI ("6.1.0-50-amd64"). For a
 * guest arch other than the host's (`foreign`, e.g. "armhf"), the guest's
 * packages are arch-qualified and linux-kbuild is the host's: its scripts
 * (fixdep, modpost) run on the build machine.
 */
export function packageNames(abi: string, foreign?: { debArch: string; hostArch: string }): { image: string; headers: string; common: string; kbuild: string; busybox: string } {
  const m = /^((\d+\.\d+)\.\d+-\d+)-(\w+)$/.exec(abi);
  if (!m) throw devmapError('ERR_DEVMAP_LOCK', `unexpected kernel ABI "${abi}" (want like 6.1.0-50-amd64)`);
  const q = foreign ? `:${foreign.debArch}` : '';
  return {
    image: `linux-image-${abi}${q}`,
    headers: `linux-headers-${abi}${q}`,
    common: `linux-headers-${m[1]}-common`,
    kbuild: `linux-kbuild-${m[2]}${foreign ? `:${foreign.hostArch}` : ''}`,
    busybox: `busybox-static${q}`,
  };
}

/** packageNames for a guest arch: qualified when it is not the host's. */
export function archPackageNames(abi: string, a: GuestArch): ReturnType<typeof packageNames> {
  const hostArch = hostDebArch();
  return packageNames(abi, a.debArch === hostArch ? undefined : { debArch: a.debArch, hostArch });
}

function aptCache(args: string[]): string | undefined {
  const r = spawnSync('apt-cache', args, { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout : undefined;
}

const isRoot = (): boolean => process.getuid?.() === 0;

let updated = false;
/** apt-get update, once per process, as root only. */
function aptUpdate(log: Log, why: string): boolean {
  if (updated || !isRoot()) return false;
  log(`apt-get update (${why})`);
  aptGetUpdate(log);
  updated = true;
  return true;
}

function candidate(pkg: string): string | undefined {
  return /^Version: (\S+)/m.exec(aptCache(['show', '--no-all-versions', pkg]) ?? '')?.[1];
}

/** linux-image-<flavour>, the package that names the archive's current kernel. */
const metaPackage = (a: GuestArch): string => `linux-image-${a.flavour}${isForeign(a) ? `:${a.debArch}` : ''}`;

/** The ABI the archive's current kernel has, as apt's lists see it now. */
function currentAbi(a: GuestArch): string | undefined {
  const deps = aptCache(['depends', metaPackage(a)]);
  return new RegExp(`Depends: linux-image-(\\S+-${a.flavour})`).exec(deps ?? '')?.[1];
}

/** What to do when apt's lists lack the arch's kernel. */
export function noKernelHint(a: GuestArch): string {
  const add = isForeign(a) ? `dpkg --add-architecture ${a.debArch} && ` : '';
  return `apt knows no ${metaPackage(a)}; run "${add}apt-get update" (as root) and retry`;
}

/** The current kernel of the archive, as apt sees it now (plus, for a foreign arch, Node's userland). */
function resolveCurrent(a: GuestArch, log: Log): GuestPackages {
  let abi = currentAbi(a);
  if (!abi && aptUpdate(log, 'package lists are missing or stale')) abi = currentAbi(a);
  if (!abi) throw devmapError('ERR_DEVMAP_APT', noKernelHint(a));
  const foreign = isForeign(a);
  const packages: Record<string, string> = {};
  const names = archPackageNames(abi, a);
  for (const pkg of Object.values(names)) {
    // The host's kbuild must be the kernel's version, not the newest one.
    const v = foreign && pkg === names.kbuild ? packages[names.image] : candidate(pkg);
    if (!v) throw devmapError('ERR_DEVMAP_APT', `apt has no candidate for ${pkg}; run "apt-get update" (as root) and retry`);
    packages[pkg] = v;
  }
  if (foreign) Object.assign(packages, resolveUserland(a, candidate));
  return { abi, packages };
}

/** What choosing, checking and pinning packages asks of apt; tests replace it. */
export interface AptLookup {
  /** Do apt's lists still have pkg=version? */
  has(pkg: string, version: string): boolean;
  /** The ABI of the archive's current kernel, or undefined if apt's lists lack it. */
  currentAbi(a: GuestArch): string | undefined;
  /** The archive's current packages for the arch (runs apt-get update once if it must). */
  current(a: GuestArch, log: Log): GuestPackages;
  /** apt-get update, once per process and only as root; false when it did not run. */
  update(log: Log, why: string): boolean;
  /** Makes apt know a foreign arch's packages (as root), or throws saying what to run. */
  addArch(a: GuestArch, log: Log): void;
}

/** The lock file, the .deb cache and apt. */
export interface PackageSys {
  apt: AptLookup;
  lockFile: string;
  debDir: string;
}

const systemApt: AptLookup = {
  has: (n, v) => aptCache(['show', `${n}=${v}`]) !== undefined,
  currentAbi,
  current: resolveCurrent,
  update: aptUpdate,
  addArch: (a, log) => (isForeign(a) ? ensureAptArch(a, log) : undefined),
};

const system = (): PackageSys => ({ apt: systemApt, lockFile: lockPath(), debDir: join(cacheDir(), 'debs') });

export const debName = (pkg: string, version: string): string => `${pkg}_${version}.deb`.replace(/:/g, '%3a');
const isCached = (sys: PackageSys, pkg: string, version: string): boolean => existsSync(join(sys.debDir, debName(pkg, version)));
const pinList = (pin: GuestPackages | undefined): [string, string][] => Object.entries(pin?.packages ?? {});

const PIN_IT = 'run "devmap guest lock --update" to pin it';

/**
 * The packages for this run: the lock's pin while each of its .debs is
 * cached or in the archive (apt is not asked when all are cached);
 * otherwise, or with no pin, the archive's current kernel, said in one line.
 * Never writes the lock file: `devmap guest lock --update` does.
 */
export function choosePackages(a: GuestArch, log: Log, sys: PackageSys = system()): GuestPackages {
  const pin = pinOf(readLock(sys.lockFile), a);
  if (!pin) {
    const cur = sys.apt.current(a, log);
    log(`the lock file pins no ${a.key} kernel; using the current one, ${cur.abi}, for this run; ${PIN_IT}`);
    return cur;
  }
  const gone = (): string[] => pinList(pin).filter(([n, v]) => !isCached(sys, n, v) && !sys.apt.has(n, v)).map(([n, v]) => `${n}=${v}`);
  let missing = gone();
  if (missing.length && sys.apt.update(log, 'package lists are missing or stale')) missing = gone();
  if (!missing.length) return pin;
  const cur = sys.apt.current(a, log);
  log(`locked ${a.key} kernel ${pin.abi} is gone from the archive (neither cached nor in apt's lists: ${missing.join(' ')}); using ${cur.abi} for this run; ${PIN_IT}`);
  return cur;
}

export interface PinStatus {
  arch: string;
  pin?: GuestPackages;
  /** The archive's current kernel ABI; undefined when apt's lists lack it (then `gone` is not known). */
  current?: string;
  /** Pinned packages apt's lists no longer have, as name=version. */
  gone: string[];
  /** Each pinned .deb is cached here or in apt's lists, so runs here keep using the pin. */
  kept: boolean;
}

/** What `devmap guest lock` shows for an arch. Reads only: no apt-get update, no writes. */
export function pinStatus(a: GuestArch, sys: PackageSys = system()): PinStatus {
  const pin = pinOf(readLock(sys.lockFile), a);
  const current = sys.apt.currentAbi(a);
  // Lists without the arch's kernel (a foreign arch apt does not know) say nothing about the archive.
  const pins = pinList(pin).map(([n, v]) => ({ name: `${n}=${v}`, cached: isCached(sys, n, v), listed: current !== undefined && sys.apt.has(n, v) }));
  return {
    arch: a.key, pin, current,
    gone: current ? pins.filter((p) => !p.listed).map((p) => p.name) : [],
    kept: pin !== undefined && pins.every((p) => p.cached || p.listed),
  };
}

/**
 * `devmap guest lock --update`: pins the archive's current packages for
 * each arch and writes the lock file once all are resolved (all or nothing),
 * if anything changed.
 */
export function updateLock(arches: GuestArch[], log: Log, sys: PackageSys = system()): { arch: string; from?: string; to: string; changed: boolean }[] {
  let lock = readLock(sys.lockFile);
  sys.apt.update(log, 'to pin what the archive has now');
  const changes = arches.map((a) => {
    sys.apt.addArch(a, log);
    const cur = sys.apt.current(a, log);
    const old = pinOf(lock, a);
    lock = withPin(lock, a, cur);
    return { arch: a.key, from: old?.abi, to: cur.abi, changed: JSON.stringify(old) !== JSON.stringify(cur) };
  });
  if (changes.some((c) => c.changed)) writeLock(lock, sys.lockFile);
  return changes;
}

/**
 * The chosen packages as cached .deb files, downloading what is not cached.
 * Network is touched only when a .deb is missing.
 */
export function fetchGuestPackages(a: GuestArch, log: Log): { pkgs: GuestPackages; debs: Record<string, string> } {
  const sys = system();
  mkdirSync(sys.debDir, { recursive: true });
  const pkgs = choosePackages(a, log, sys);
  download(pinList(pkgs).filter(([n, v]) => !isCached(sys, n, v)), sys.debDir, log);
  const debs = Object.fromEntries(pinList(pkgs).map(([n, v]) => [n, join(sys.debDir, debName(n, v))]));
  return { pkgs, debs };
}

function download(todo: [string, string][], dir: string, log: Log): void {
  if (!todo.length) return;
  const tmp = join(dir, `.download-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    for (const [n, v] of todo) {
      log(`downloading ${n}=${v}`);
      // As root apt drops to the _apt user, which cannot write our cache.
      const sandbox = isRoot() ? ['-o', 'APT::Sandbox::User=root'] : [];
      run('apt-get', ['download', '-q', ...sandbox, `${n}=${v}`], { cwd: tmp });
      const got = readdirSync(tmp).find((f) => f.startsWith(`${n.replace(/:.*/, '')}_`) && f.endsWith('.deb'));
      if (!got) throw devmapError('ERR_DEVMAP_APT', `apt-get download ${n}=${v} produced no .deb`);
      renameSync(join(tmp, got), join(dir, debName(n, v)));
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
