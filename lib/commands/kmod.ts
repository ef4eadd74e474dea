// `devmap kmod build|install|load [MODULE...]`: the companion kernel modules
// on this machine (or a staging tree for another), built against a kernel's
// headers in a copy under the devmap cache -- never in the package folder.
import { mkdirSync, realpathSync, readdirSync, rmSync } from 'node:fs';
import { release as unameR } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';

import { devmapError } from '../errors.js';
import { cacheDir, hashTree, sha256 } from '../harness/image/cache.js';
import {
  INSTALL_DIR, buildKmod, checkInstallRoot, installKmods, isBuildTree, loadKmods, readHeaders, selectModules,
  type BuiltKmod, type KernelHeaders,
} from '../kmod/index.js';

interface BuildArgs {
  modules?: string[];
  kdir?: string;
}

/** The headers to build against: --kdir, else the running kernel's, with what to install when they are missing. */
export function findHeaders(kdir: string | undefined, release = unameR()): KernelHeaders {
  if (kdir !== undefined) {
    if (!isBuildTree(kdir)) {
      throw devmapError('ERR_DEVMAP_KMOD_HEADERS', `--kdir ${kdir} is not a kernel build tree (no Makefile and .config there); give the folder of a kernel's headers, e.g. /usr/src/linux-headers-${release} (Debian: sudo apt-get install linux-headers-${release})`);
    }
    return readHeaders(kdir);
  }
  const dir = `/lib/modules/${release}/build`;
  if (!isBuildTree(dir)) {
    throw devmapError('ERR_DEVMAP_KMOD_HEADERS', `no headers of the running kernel ${release} at ${dir}; install them with\n  sudo apt-get install linux-headers-${release}\nor build against another kernel's headers with --kdir DIR`);
  }
  return readHeaders(dir);
}

/**
 * Where a folder is built: the devmap cache, one copy per module, kernel and
 * source content (an upgraded package is rebuilt; an unchanged one only
 * re-runs make, which finds nothing to do). Older copies for the same
 * module and kernel are removed.
 */
function workDir(src: string, h: KernelHeaders): string {
  const root = join(cacheDir(), 'kmod-build');
  mkdirSync(root, { recursive: true });
  const prefix = `${basename(src)}-${h.release}-`;
  const dir = join(root, prefix + sha256(realpathSync(h.dir), hashTree(src)).slice(0, 12));
  for (const old of readdirSync(root, { withFileTypes: true }).map((d) => d.name)) {
    if (old.startsWith(prefix) && join(root, old) !== dir && !old.includes('.tmp-')) rmSync(join(root, old), { recursive: true, force: true });
  }
  return dir;
}

function buildAll(argv: BuildArgs, check?: (h: KernelHeaders) => void): { h: KernelHeaders; built: BuiltKmod[] } {
  // A name that is no module is wrong whatever the kernel: say so first.
  selectModules(argv.modules ?? [], undefined);
  const h = findHeaders(argv.kdir);
  const sources = selectModules(argv.modules ?? [], h.arch);
  check?.(h);
  const built = sources.map((src) => {
    const t = Date.now();
    process.stderr.write(`devmap: building ${basename(src)} against ${h.release} (${h.dir}) ...\n`);
    const b = buildKmod(src, h, workDir(src, h));
    console.log(`built ${b.kos.map((k) => basename(k)).join(' ')} for ${h.release} in ${((Date.now() - t) / 1000).toFixed(1)} s: ${b.dir}`);
    return b;
  });
  return { h, built };
}

const kdirOption = <T>(y: Argv<T>) =>
  y
    .positional('modules', { type: 'string', array: true, describe: 'ivshmem, edu, clcd (default: every module that builds for the kernel\'s arch)' })
    .option('kdir', { type: 'string', describe: "the kernel's build tree (default /lib/modules/$(uname -r)/build); the kernel release is read from it" });

const build: CommandModule<object, BuildArgs> = {
  command: 'build [modules..]',
  describe: "Build the companion modules against a kernel's headers, in a copy under the devmap cache",
  builder: (y) =>
    kdirOption(y)
      .example('devmap kmod build', "build every module for the running kernel (needs linux-headers-$(uname -r))")
      .example('devmap kmod build ivshmem --kdir /usr/src/linux-headers-6.12.118+deb13-amd64', 'build one module for another installed kernel') as Argv<BuildArgs>,
  handler: (argv) => void buildAll(argv),
};

const install: CommandModule<object, BuildArgs & { installModPath?: string }> = {
  command: 'install [modules..]',
  describe: `Build, then make modules_install into lib/modules/RELEASE/${INSTALL_DIR} (of / or a staging tree) and run depmod`,
  builder: (y) =>
    kdirOption(y)
      .option('install-mod-path', { type: 'string', describe: "stage under DIR instead of / (default $INSTALL_MOD_PATH, as the kernel's make takes it); no root needed" })
      .example('sudo devmap kmod install', 'build and install for the running kernel; then: sudo devmap kmod load')
      .example('devmap kmod install --install-mod-path /tmp/stage --kdir /usr/src/linux-headers-6.1.0-57-amd64', 'stage for another kernel (a guest, an image): /tmp/stage/lib/modules/6.1.0-57-amd64/...')
      .epilogue('depmod runs for the kernel the headers are of (depmod -b DIR RELEASE when staging), so modprobe finds the modules there; updates/ takes precedence over the kernel\'s own modules of the same name.') as Argv<BuildArgs & { installModPath?: string }>,
  handler: (argv) => {
    const given = argv.installModPath ?? (process.env.INSTALL_MOD_PATH || undefined);
    const modPath = given === undefined ? undefined : resolve(given);
    // Before building: no point compiling what cannot be installed.
    const { h, built } = buildAll(argv, (hh) => checkInstallRoot(hh, modPath));
    const r = installKmods(built, h, modPath);
    for (const f of r.files) console.log(`installed ${f}`);
    console.log(`depmod: ${join(r.moduleDir, 'modules.dep')} lists them`);
    console.log(modPath ? `load them on a machine running ${h.release}: sudo devmap kmod load --from ${modPath}` : 'load them: sudo devmap kmod load');
  },
};

const load: CommandModule<object, { modules?: string[]; from?: string; reload: boolean }> = {
  command: 'load [modules..]',
  describe: 'Load installed modules (modprobe), or staged ones (--from: insmod, what they depend on first)',
  builder: (y) =>
    y
      .positional('modules', { type: 'string', array: true, describe: `ivshmem, edu, clcd (default: every module install put into lib/modules/$(uname -r)/${INSTALL_DIR})` })
      .option('from', { type: 'string', describe: 'the staging tree `install --install-mod-path` wrote (default $INSTALL_MOD_PATH; unset: the modules installed into /)' })
      .option('reload', { type: 'boolean', default: false, describe: 'unload a loaded copy first (rmmod) instead of leaving it' })
      .example('sudo devmap kmod load', 'modprobe every installed module for this machine')
      .example('sudo devmap kmod load --reload ivshmem edu --from /tmp/stage', 'replace loaded copies with the staged ones')
      .epilogue('A staged module must have been built for the running kernel: its vermagic is checked before insmod. /sys/module/NAME/version and srcversion show which one is loaded.'),
  handler: (argv) => {
    const from = argv.from ?? (process.env.INSTALL_MOD_PATH || undefined);
    for (const r of loadKmods(argv.modules ?? [], { ...(from ? { from: resolve(from) } : {}), reload: argv.reload })) {
      const what = [r.version && `version ${r.version}`, r.srcversion && `srcversion ${r.srcversion}`, r.buildId && `build id ${r.buildId}`].filter(Boolean).join(', ');
      const line = r.outcome === 'already loaded' ? `${r.module} is already loaded${what && ` (${what})`}; --reload replaces it` : `${r.outcome} ${r.module}${r.file ? ` from ${r.file}` : ''}${what && ` (${what})`}`;
      console.log(line);
    }
  },
};

export const kmodCommand: CommandModule = {
  command: 'kmod <command>',
  describe: 'Build, install and load the companion kernel modules (ivshmem, edu, clcd) on this machine',
  builder: (y) =>
    y
      .command(build).command(install).command(load).demandCommand(1, 'Name a kmod command: build, install or load.')
      .example('sudo apt-get install linux-headers-$(uname -r) build-essential', 'what building needs (Debian)')
      .example('sudo devmap kmod install && sudo devmap kmod load', 'build, install and load every module for the running kernel')
      .example('sudo dkms install node_modules/devmap/native/kmod/ivshmem', 'or let dkms rebuild it for every kernel installed later (docs/kmod.md)')
      .epilogue('Builds run in a copy under the devmap cache ($DEVMAP_CACHE, else ~/.cache/devmap/kmod-build), never in the package folder. A missing tool names the Debian package to install; a module that does not compile shows the compiler\'s first error and the kernel release. Secure Boot machines load only signed modules: dkms signs with its MOK key.'),
  handler: () => undefined,
};
