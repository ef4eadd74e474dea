// Guests of another architecture than the host (armhf on amd64): the apt
// architecture, Node and its libraries from the arch's Debian packages
// (host ldd cannot read a foreign ELF, so the library closure comes from
// the packages' Depends), busybox's applet list without running it, and
// the addon cross-built with cmake-js.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';

import { packageRoot } from '../../paths.js';
import { devmapError } from '../../errors.js';
import type { GuestArch } from '../machines/machines.js';
import { aptGetUpdate, buildOnce, cacheDir, hashTree, run, sha256, type Log } from './cache.js';
import type { FileSet } from './files.js';

/** What the guest's userland needs from the arch's archive: Node (and its libraries), fbset for the framebuffer spec. */
export const USERLAND_ROOTS = ['nodejs', 'fbset'];

/**
 * Dependencies followed: shared libraries and Node's externalised builtins
 * (Debian's node loads acorn, undici, cjs-module-lexer from /usr/share/nodejs).
 * Maintainer-script tools (dpkg, debconf, perl) never run in the guest.
 */
const FOLLOW = /^(lib|zlib|node-|nodejs$|fbset$)/;

/** Folders of the unpacked packages that the guest never reads. */
const SKIP_DIRS = /^\/usr\/share\/(doc|man|lintian|locale|info|bug)(\/|$)/;

let hostArch: string | undefined;
export function hostDebArch(): string {
  hostArch ??= run('dpkg', ['--print-architecture']).trim();
  return hostArch;
}

export const isForeign = (a: GuestArch): boolean => a.debArch !== hostDebArch();

/** `dpkg --add-architecture` (as root) so that apt knows the arch's packages; otherwise say what to run. */
export function ensureAptArch(a: GuestArch, log: Log): void {
  const have = run('dpkg', ['--print-foreign-architectures']).split('\n').map((s) => s.trim());
  if (have.includes(a.debArch)) return;
  if (process.getuid?.() !== 0) {
    throw devmapError('ERR_DEVMAP_APT', `apt does not know ${a.debArch} packages; run: sudo dpkg --add-architecture ${a.debArch} && sudo apt-get update`);
  }
  log(`dpkg --add-architecture ${a.debArch} && apt-get update`);
  run('dpkg', ['--add-architecture', a.debArch]);
  aptGetUpdate(log);
}

/** The package's apt name for `debArch`: "name:armhf", or "name" for an Architecture: all package. */
function qualify(base: string, debArch: string): string | undefined {
  for (const n of [`${base}:${debArch}`, base]) {
    const r = spawnSync('apt-cache', ['show', '--no-all-versions', n], { encoding: 'utf8' });
    const arch = /^Architecture: (\S+)/m.exec(r.stdout ?? '')?.[1];
    if (r.status === 0 && (arch === debArch || arch === 'all')) return n;
  }
  return undefined;
}

/** Package → candidate version of the userland's closure (qualified names), for the lock file. */
export function resolveUserland(a: GuestArch, candidate: (pkg: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const queue = [...USERLAND_ROOTS];
  while (queue.length) {
    const base = queue.shift()!;
    if (seen.has(base)) continue;
    seen.add(base);
    const name = qualify(base, a.debArch);
    if (!name) throw devmapError('ERR_DEVMAP_APT', `apt has no ${base} for ${a.debArch}; run "apt-get update" (as root) and retry`);
    const v = candidate(name);
    if (!v) throw devmapError('ERR_DEVMAP_APT', `apt has no candidate for ${name}`);
    out[name] = v;
    const deps = run('apt-cache', ['depends', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', `${name}=${v}`]);
    let alternative = false;
    for (const line of deps.split('\n')) {
      // "  Depends: x" or, in an alternative group, " |Depends: x" then "  Depends: y" (take x only).
      const m = /^ (\||\s)(?:Pre)?Depends: <?([^\s:>]+)/.exec(line);
      if (!m) continue;
      if (!alternative && FOLLOW.test(m[2]!)) queue.push(m[2]!);
      alternative = m[1] === '|';
    }
  }
  return out;
}

/** Unpacks the userland packages (cached by their versions) and returns the tree. */
export function unpackUserland(pkgs: Record<string, string>, debs: Record<string, string>, log: Log): string {
  const names = Object.keys(pkgs).filter((n) => FOLLOW.test(n.replace(/:.*/, ''))).sort();
  const key = sha256(...names.map((n) => `${n}=${pkgs[n]}`)).slice(0, 16);
  return buildOnce(join(cacheDir(), 'userland', key), (tmp) => {
    log(`unpacking the guest userland (${names.length} packages)`);
    for (const n of names) run('dpkg', ['-x', debs[n]!, tmp]);
  });
}

/** Adds an unpacked userland tree at / in the guest (docs and man pages left out). */
export function addUserland(fs: FileSet, tree: string): void {
  for (const top of readdirSync(tree)) {
    fs.tree(join(tree, top), `/${top}`, (p) => SKIP_DIRS.test(p.slice(tree.length)));
  }
  if (!existsSync(join(tree, 'usr', 'bin', 'node')) && !existsSync(join(tree, 'usr', 'bin', 'nodejs'))) {
    throw devmapError('ERR_DEVMAP_NODE', `the ${tree} userland has no usr/bin/node`);
  }
}

/**
 * busybox's applet names without running it (a foreign binary): the
 * NUL-separated list that starts with "[" and "[[" in the binary.
 */
export function busyboxApplets(busybox: string): string[] {
  const bin = readFileSync(busybox);
  const at = bin.indexOf(Buffer.from('[\0[[\0', 'latin1'));
  if (at < 0) throw devmapError('ERR_DEVMAP_BUSYBOX', `${busybox}: no applet list found`);
  const end = bin.indexOf(Buffer.from('\0\0', 'latin1'), at);
  return bin.subarray(at, end).toString('latin1').split('\0').filter((n) => /^[\w.[\]-]+$/.test(n));
}

/** The addon cross-built for `a` with cmake-js and the arch's toolchain file, cached by the sources' hash. */
export function crossAddon(a: GuestArch, log: Log): string {
  const cross = a.cross!;
  const toolchain = join(packageRoot, cross.cmakeToolchain);
  const key = sha256(hashTree(join(packageRoot, 'native', 'addon')), hashTree(join(packageRoot, 'native', 'CMakeLists.txt')), hashTree(toolchain)).slice(0, 16);
  const dir = buildOnce(join(cacheDir(), 'addon', `${a.key}-${key}`), (tmp) => {
    log(`cross-building the addon for ${a.key} (cmake-js, ${cross.prefix}g++)`);
    run(process.execPath, [join(packageRoot, 'scripts', 'build-addon.mjs'), '--cmake', '--out', tmp, `--CDCMAKE_TOOLCHAIN_FILE=${toolchain}`], { cwd: packageRoot });
  });
  return posix.join(dir, 'Release', 'devmap.node');
}
