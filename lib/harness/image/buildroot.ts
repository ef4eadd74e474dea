// Build roots: a minimal Debian of a guest kernel's suite with the compiler
// that kernel was built with (native, armhf and arm64) and the suite's Node,
// where its companion modules are built. Debian's headers name their compiler (gcc-14 for 6.12,
// gcc-16 for 7.x), which the host's own suite may not carry. Roots are
// cached by suite, compiler and package list; commands run in them in a
// private mount namespace, so no mount outlives the command.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';

import { devmapError } from '../../errors.js';
import { SuiteApt, type SuiteRef } from './apt.js';
import { cacheDir, sha256, shellQuote, type Log } from './cache.js';
import { BUILD_ROOT_TOOLS, DEBIAN_KEYRING, ensureHostTools } from './hosttools.js';

/**
 * What kbuild needs for out-of-tree modules, one group per need; a group's
 * names are tried in order (trixie and later first, then bookworm's).
 */
export function rootPackages(gcc: number): string[][] {
  return [
    [`gcc-${gcc}`], ['make'],
    // The static smoke programs (`make smoke`), native and cross.
    ['libc6-dev'], ['libc6-dev-armhf-cross'], ['libc6-dev-arm64-cross'],
    // linux-kbuild's own Depends: objtool needs libelf, sign-file libssl.
    ['libelf1t64', 'libelf1'], ['libssl3t64', 'libssl3'], ['zlib1g'], ['pahole', 'dwarves'],
    // Full perl, not perl-base: 6.12's W=1 runs scripts/kernel-doc, which wants Pod::Usage.
    ['perl'],
    [`gcc-${gcc}-arm-linux-gnueabihf`], [`gcc-${gcc}-aarch64-linux-gnu`],
    // The suite's own Node: `devmap kmod` runs here as a user's machine of
    // that suite would run it, and the prebuilt addon is loaded by that
    // suite's Node major (trixie 20, sid 24) -- nothing else can bring
    // another Node onto this machine.
    ['nodejs'],
    // What `devmap kmod install` runs besides make, as any Debian with a
    // kernel has it: depmod (kmod), and xz, with which 6.12's and 7.x's
    // modules_install compresses every module (CONFIG_MODULE_COMPRESS_ALL).
    ['kmod'], ['xz-utils'],
  ];
}

/** Each group's first name that `candidate` knows; throws naming every group the suite has none of. */
export function resolvePackages(groups: string[][], candidate: (pkg: string) => string | undefined, suite: string): string[] {
  const picked = groups.map((g) => g.find((p) => candidate(p) !== undefined));
  const missing = groups.filter((_, i) => picked[i] === undefined).map((g) => g.join(' or '));
  if (missing.length) throw devmapError('ERR_DEVMAP_APT', `${suite} has no ${missing.join(', ')}: no build root for it`);
  return picked as string[];
}

function checkRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw devmapError('ERR_DEVMAP_BUILD_ROOT', `${what} needs root (mmdebstrap, mount and chroot); run it as root, e.g. with sudo, or in a root container`);
  }
}

function checkGcc(gcc: number): void {
  if (!Number.isInteger(gcc) || gcc < 4 || gcc > 99) throw devmapError('ERR_DEVMAP_BUILD_ROOT', `gccMajor must be a gcc major version like 14, got ${gcc}`);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Half-made roots of runs that were killed (a run that fails removes its own). */
function removeStale(dir: string): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const pid = /\.tmp-(\d+)$/.exec(name)?.[1];
    if (pid && !alive(Number(pid))) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

// Under a lock on the roots folder: a second process (test files run in
// parallel on a cold cache) waits, then finds the root in place instead of
// making it again. The rename into place is under the lock too.
// Arguments: FINAL TMP MIRROR MMDEBSTRAP-OPTIONS... SUITE
const LOCKED_BUILD = `final=$1 tmp=$2 mirror=$3; shift 3
[ -e "$final" ] && exit 0
rm -rf "$tmp"
unshare --mount --propagation private --fork mmdebstrap "$@" "$tmp" "$mirror" && mv "$tmp" "$final"`;

/**
 * mmdebstrap in one apt run, inside a private mount namespace: what it
 * mounts in the target (/proc, /sys, /dev nodes) goes with the namespace
 * even when it is killed, so the temp folder can always be removed.
 */
function mmdebstrap(apt: SuiteApt, pkgs: string[], final: string, note: string): void {
  const name = apt.suite.name;
  const tmp = `${final}.tmp-${process.pid}`;
  const options = [
    '--mode=root', '--variant=apt', `--include=${pkgs.join(',')}`,
    '--aptopt=Acquire::Check-Valid-Until "false"', '--aptopt=APT::Sandbox::User "root"',
    `--customize-hook=echo '${note}' > "$1/devmap-root"`,
  ];
  const mirror = `deb [signed-by=${DEBIAN_KEYRING}] ${apt.archive.archive} ${name} main`;
  try {
    // mmdebstrap's own progress goes straight to stderr, where the log goes.
    const r = spawnSync('flock', [join(dirname(final), '.build.lock'), 'sh', '-c', LOCKED_BUILD, 'sh', final, tmp, mirror, ...options, name], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0) {
      throw devmapError('ERR_DEVMAP_BUILD_ROOT', `mmdebstrap could not make the ${name} build root (exit ${r.status ?? r.signal ?? r.error?.message}; its messages are above); ` +
        `check the network and that ${apt.archive.archive} serves ${name}. Nothing was kept.`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The cached build root of `suite` for modules of kernels built with
 * gcc-`gccMajor` (amd64, armhf, arm64), made once with mmdebstrap (1-3
 * minutes) into a temp folder renamed into place when complete. Making one
 * needs root and the network; a cached one needs neither.
 */
export function buildRoot(suite: SuiteRef, gccMajor: number, log: Log): string {
  checkGcc(gccMajor);
  const groups = rootPackages(gccMajor);
  const dir = join(cacheDir(), 'roots');
  const final = join(dir, `${suite.name}-gcc${gccMajor}-${sha256(JSON.stringify(groups)).slice(0, 12)}`);
  if (existsSync(final)) return final;
  checkRoot(`making the ${suite.name} build root`);
  ensureHostTools(log, BUILD_ROOT_TOOLS);
  const apt = new SuiteApt(suite);
  apt.update(log);
  const pkgs = resolvePackages(groups, (p) => apt.candidate(p), suite.name);
  mkdirSync(dir, { recursive: true });
  removeStale(dir);
  log(`making the ${suite.name} build root for gcc-${gccMajor} with mmdebstrap (${pkgs.length} packages and their dependencies; takes 1-3 minutes) ...`);
  const start = Date.now();
  mmdebstrap(apt, pkgs, final, `suite=${suite.name} gcc=${gccMajor} packages=${pkgs.join(',')}`);
  log(`${suite.name} build root ready after ${Math.round((Date.now() - start) / 1000)} s`);
  removeSuperseded(dir, final, `${suite.name}-gcc${gccMajor}-`);
  return final;
}

/**
 * Roots of the same suite and compiler with an older package list (about
 * 1 GB each), unless a run is inside one (it holds the runs lock shared).
 */
export function removeSuperseded(dir: string, final: string, prefix: string): void {
  for (const name of readdirSync(dir)) {
    const root = join(dir, name);
    if (!name.startsWith(prefix) || root === final || name.includes('.tmp-')) continue;
    spawnSync('flock', ['--exclusive', '--nonblock', runsLock(root), 'rm', '-rf', '--one-file-system', root], { stdio: 'ignore' });
  }
}

/**
 * A bind must exist on the host, and its mount point must stay inside the
 * root: an absolute symlink in the root (/var/run -> /run) would otherwise
 * make mkdir create the mount point on the host. Returns the paths in the
 * root that the mount point needs created, deepest first.
 */
function checkBind(root: string, bind: string): string[] {
  if (!isAbsolute(bind) || !existsSync(bind)) throw devmapError('ERR_DEVMAP_BUILD_ROOT', `bind "${bind}" must be an absolute path that exists on the host`);
  const missing: string[] = [];
  let at = join(root, bind);
  for (; !existsSync(at); at = dirname(at)) missing.push(at);
  const real = realpathSync(at);
  const top = realpathSync(root);
  if (real !== top && !real.startsWith(`${top}/`)) throw devmapError('ERR_DEVMAP_BUILD_ROOT', `bind "${bind}" would be mounted outside the root (${at} leads to ${real})`);
  return missing;
}

// Runs hold this lock shared. Mount points a run made are removed after it
// only with the lock exclusive, i.e. when no other run is inside: removing a
// folder that another run's namespace mounts on would detach that mount.
const runsLock = (root: string): string => join(root, '.devmap-runs.lock');

const REMOVE_EMPTY = 'for p; do rmdir -- "$p" 2>/dev/null || { [ -f "$p" ] && [ ! -s "$p" ] && rm -f -- "$p"; } || :; done';

/** Removes the empty mount points a run made, unless another run is inside (then they stay, harmless). */
function removeMountPoints(root: string, paths: string[]): void {
  if (paths.length) spawnSync('flock', ['--exclusive', '--nonblock', runsLock(root), 'sh', '-c', REMOVE_EMPTY, 'sh', ...paths], { stdio: 'ignore' });
}

export interface RunInRootOptions {
  /** Working folder inside the root (default /). */
  cwd?: string;
  /** Host folders (or files) mounted at the same absolute path inside the root. */
  binds?: string[];
}

// Runs in the new mount namespace: the binds, /proc (7.x's objtool reads
// its stack limit there), then the command in the root. Arguments:
// ROOT CWD N BIND1..BINDN ARGV...
const IN_NAMESPACE = `set -e
root=$1 cwd=$2 n=$3; shift 3
while [ "$n" -gt 0 ]; do
  if [ -d "$1" ]; then mkdir -p "$root$1"; else mkdir -p "$root\${1%/*}"; [ -e "$root$1" ] || : > "$root$1"; fi
  mount --bind "$1" "$root$1"; shift; n=$((n - 1))
done
mount -t proc proc "$root/proc"
exec chroot "$root" sh -c 'cd "$1" && shift && exec "$@"' sh "$cwd" "$@"`;

/**
 * Runs `argv` inside `root` as root, with `binds` mounted in a private mount
 * namespace (nothing stays mounted afterwards, even if this process is
 * killed). Returns its stdout; a non-zero exit throws with the tail of its
 * stderr.
 */
export function runInRoot(root: string, argv: string[], { cwd = '/', binds = [] }: RunInRootOptions = {}): string {
  checkRoot('running a command in a build root');
  if (!existsSync(join(root, 'usr', 'bin', 'sh')) && !existsSync(join(root, 'bin', 'sh'))) throw devmapError('ERR_DEVMAP_BUILD_ROOT', `${root} is not a build root (no /bin/sh in it)`);
  if (argv.length === 0) throw devmapError('ERR_DEVMAP_BUILD_ROOT', 'runInRoot needs a command');
  const made = binds.flatMap((b) => checkBind(root, b));
  const args = ['--mount', '--propagation', 'private', '--fork', 'sh', '-c', IN_NAMESPACE, 'sh', root, cwd, String(binds.length), ...binds, ...argv];
  // The root has no locales: the host's LANG would make perl warn on every run.
  const env = { ...process.env, LC_ALL: 'C.UTF-8', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  const r = spawnSync('flock', ['--shared', runsLock(root), 'unshare', ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
  removeMountPoints(root, made);
  if (r.status !== 0) {
    const tail = String(r.stderr || r.error?.message || '').trim().split('\n').slice(-15).join('\n');
    throw devmapError('ERR_DEVMAP_COMMAND', `${shellQuote(argv)} in the build root ${root} (cwd ${cwd}) exited with ${r.status ?? r.signal}\n${tail}`);
  }
  return r.stdout;
}
