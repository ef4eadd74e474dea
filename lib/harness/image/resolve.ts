// What the archive has now for a guest: the current kernel of a suite for an
// arch (image, modules, headers, the build machine's kbuild), busybox, and
// for a foreign arch Node with its libraries from the userland suite. Each
// suite is read through its own private apt configuration (apt.ts).
import { devmapError } from '../../errors.js';
import { USERLAND_SUITE, SUITES, type Suite } from '../machines/suites.js';
import type { GuestArch } from '../machines/machines.js';
import { SuiteApt } from './apt.js';
import type { Log } from './cache.js';
import type { GuestPackages } from './lock.js';

/** A guest kernel: a Debian suite and a guest architecture. */
export interface Target {
  suite: Suite;
  arch: GuestArch;
}

export const targetName = (t: Target): string => `${t.suite.name}/${t.arch.key}`;

const apts = new Map<string, SuiteApt>();
/** The private apt of `suite`, one per process. */
export function suiteApt(suite: Suite): SuiteApt {
  let apt = apts.get(suite.name);
  if (!apt) apts.set(suite.name, (apt = new SuiteApt(suite)));
  return apt;
}

/** The build machine's Debian architecture (kbuild's programs run there). */
export const BUILD_ARCH = process.arch === 'arm64' ? 'arm64' : process.arch === 'arm' ? 'armhf' : 'amd64';

/** The name apt knows `base` by for `debArch`: "name:armhf", or "name" for an Architecture: all package. */
function qualify(apt: SuiteApt, base: string, debArch: string): string | undefined {
  for (const n of [`${base}:${debArch}`, base]) if (apt.candidate(n) !== undefined) return n;
  return undefined;
}

/** Follows Depends from `roots`, keeping the names `follow` accepts: name → version. */
function closure(apt: SuiteApt, roots: string[], debArch: string, follow: RegExp, archOf: (base: string) => string = () => debArch): Record<string, string> {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length) {
    const base = queue.shift()!.replace(/:\w+$/, '');
    if (seen.has(base)) continue;
    seen.add(base);
    const name = qualify(apt, base, archOf(base));
    const version = name && apt.candidate(name);
    if (!name || !version) throw devmapError('ERR_DEVMAP_APT', `${apt.suite.name} has no ${base} for ${archOf(base)}`);
    out[name] = version;
    queue.push(...apt.depends(name, version).filter((d) => follow.test(d.replace(/:\w+$/, ''))));
  }
  return out;
}

/** The packages of a kernel: versioned linux-* only (not linux-base, linux-compiler-*, firmware). */
const KERNEL_PARTS = /^linux-(image|binary|modules|base|headers|kbuild)-\d/;

/** The ABI the suite's current kernel has ("6.12.117+deb13-amd64"), or undefined if its lists lack the arch's kernel. */
export function currentAbi(t: Target): string | undefined {
  const apt = suiteApt(t.suite);
  const meta = `linux-image-${t.arch.flavour}:${t.arch.debArch}`;
  const v = apt.candidate(meta);
  if (!v) return undefined;
  const image = apt.depends(meta, v).find((d) => /^linux-image-\d/.test(d));
  return image?.replace(/^linux-image-/, '').replace(/:\w+$/, '');
}

/** Node and its libraries (and fbset) for a foreign guest, from the userland suite. */
export const USERLAND_ROOTS = ['nodejs', 'fbset'];
/** Shared libraries and Node's externalised builtins; maintainer-script tools never run in the guest. */
export const USERLAND_FOLLOW = /^(lib|zlib|node-|nodejs$|fbset$)/;

/** The archive's current packages for `t` (lists fetched first if missing or stale). */
export function resolveCurrent(t: Target, foreign: boolean, log: Log): GuestPackages {
  const apt = suiteApt(t.suite);
  apt.update(log);
  const abi = currentAbi(t);
  if (!abi) throw devmapError('ERR_DEVMAP_APT', `${t.suite.name} has no linux-image-${t.arch.flavour} for ${t.arch.debArch}`);
  // kbuild's programs (fixdep, modpost) run on the build machine: its arch, not the guest's.
  const archOf = (base: string): string => (/^linux-kbuild-/.test(base) ? BUILD_ARCH : t.arch.debArch);
  const packages = {
    ...closure(apt, [`linux-image-${abi}`, `linux-headers-${abi}`], t.arch.debArch, KERNEL_PARTS, archOf),
    ...closure(apt, ['busybox-static'], t.arch.debArch, /^$/),
  };
  if (!foreign) return { abi, packages };
  const userApt = suiteApt(SUITES[USERLAND_SUITE]);
  userApt.update(log);
  return { abi, packages, userland: closure(userApt, USERLAND_ROOTS, t.arch.debArch, USERLAND_FOLLOW) };
}
