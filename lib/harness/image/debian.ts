// Debian packages for the guest: the kernel (image, headers, kbuild) and
// busybox, fetched by name with apt-get download and pinned in
// qemu/guest.lock.json. Old kernel ABIs leave the archive, so the .debs are
// cached and a vanished pin falls back to the current kernel, loudly.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../../paths.js';
import { devmapError } from '../../errors.js';
import type { GuestArch } from '../machines/machines.js';
import { aptGetUpdate, cacheDir, run, type Log } from './cache.js';
import { hostDebArch, resolveUserland } from './foreign.js';

export interface GuestPackages {
  /** Kernel ABI, e.g. "6.1.0-50-amd64". */
  abi: string;
  /** Package name → exact version. */
  packages: Record<string, string>;
}

type LockFile = Record<string, GuestPackages>;

export const lockPath = (): string => join(packageRoot, 'qemu', 'guest.lock.json');

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
/** apt-get update, once per process, when the package lists lack something. */
function aptUpdate(log: Log): boolean {
  if (updated || !isRoot()) return false;
  log('apt-get update (package lists are missing or stale)');
  aptGetUpdate(log);
  updated = true;
  return true;
}

function candidate(pkg: string): string | undefined {
  return /^Version: (\S+)/m.exec(aptCache(['show', '--no-all-versions', pkg]) ?? '')?.[1];
}

/** The current kernel of the archive, as apt sees it now (plus, for a foreign arch, Node's userland). */
function resolveCurrent(a: GuestArch, log: Log): GuestPackages {
  const { debArch, flavour } = a;
  const foreign = a.debArch !== hostDebArch();
  const meta = `linux-image-${flavour}${foreign ? `:${debArch}` : ''}`;
  let deps = aptCache(['depends', meta]);
  if (!deps && aptUpdate(log)) deps = aptCache(['depends', meta]);
  const abi = new RegExp(`Depends: linux-image-(\\S+-${flavour})`).exec(deps ?? '')?.[1];
  if (!abi) {
    throw devmapError('ERR_DEVMAP_APT', `apt knows no ${meta} for ${debArch}; run "apt-get update" (as root) and retry`);
  }
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

function readLock(): LockFile {
  return existsSync(lockPath()) ? (JSON.parse(readFileSync(lockPath(), 'utf8')) as LockFile) : {};
}

const debName = (pkg: string, version: string): string => `${pkg}_${version}.deb`.replace(/:/g, '%3a');

/**
 * Returns the locked packages as cached .deb files, downloading what is not
 * cached. Network is touched only when a .deb is missing.
 */
export function fetchGuestPackages(a: GuestArch, log: Log): { pkgs: GuestPackages; debs: Record<string, string> } {
  const key = a.key;
  const dir = join(cacheDir(), 'debs');
  mkdirSync(dir, { recursive: true });
  const lock = readLock();
  let pkgs = lock[key];
  const cached = (p: GuestPackages): boolean => Object.entries(p.packages).every(([n, v]) => existsSync(join(dir, debName(n, v))));
  if (!pkgs || !cached(pkgs)) {
    const available = (p: GuestPackages): boolean =>
      Object.entries(p.packages).every(([n, v]) => existsSync(join(dir, debName(n, v))) || aptCache(['show', `${n}=${v}`]));
    if (pkgs && !available(pkgs) && !(aptUpdate(log) && available(pkgs))) {
      const cur = resolveCurrent(a, log);
      log(`locked kernel ${pkgs.abi} (${JSON.stringify(pkgs.packages)}) is no longer in the archive; using the current one, ${cur.abi}, and updating ${lockPath()}`);
      pkgs = cur;
    } else if (!pkgs) {
      pkgs = resolveCurrent(a, log);
      log(`no ${key} entry in the lock file; pinning the current kernel ${pkgs.abi}`);
    }
    if (lock[key] !== pkgs) writeFileSync(lockPath(), JSON.stringify({ ...lock, [key]: pkgs }, null, 2) + '\n');
    download(pkgs, dir, log);
  }
  const debs = Object.fromEntries(Object.entries(pkgs.packages).map(([n, v]) => [n, join(dir, debName(n, v))]));
  return { pkgs, debs };
}

function download(pkgs: GuestPackages, dir: string, log: Log): void {
  const tmp = join(dir, `.download-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    for (const [n, v] of Object.entries(pkgs.packages)) {
      if (existsSync(join(dir, debName(n, v)))) continue;
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
