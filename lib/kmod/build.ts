// Building the companion modules on the machine they will run on (`devmap
// kmod build|install`): a copy of the module folder outside the package
// (node_modules may be read-only, and is never written), make against the
// kernel's headers, then make modules_install and depmod. Errors say what
// to install or run.
import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { devmapError } from '../errors.js';
import type { KernelHeaders } from './headers.js';
import { copyModuleSource, installMakeArgs, modulesMakeArgs, orderedKos } from './sources.js';
import { defaultSys, type KmodSys } from './sys.js';

/** Where `install` puts the modules, under lib/modules/RELEASE/ (depmod searches updates/ before kernel/). */
export const INSTALL_DIR = 'updates/devmap';

export interface BuiltKmod {
  /** The native/kmod folder it came from. */
  src: string;
  /** The copy it was built in. */
  dir: string;
  /** The .ko files, in modules.order order. */
  kos: string[];
}

const aptHint = (pkgs: string): string => `sudo apt-get install ${pkgs}`;

/** Fails early, naming packages, when a tool kbuild will call is missing. */
export function checkBuildTools(h: KernelHeaders, sys: KmodSys = defaultSys, install = false): void {
  const missing: { cmd: string; pkg: string }[] = [];
  if (!sys.which('make')) missing.push({ cmd: 'make', pkg: 'build-essential' });
  if (!sys.which(h.compiler)) missing.push({ cmd: h.compiler, pkg: h.gcc ? `gcc-${h.gcc}` : 'build-essential' });
  if (h.btf && !sys.which('pahole')) missing.push({ cmd: 'pahole', pkg: 'pahole' });
  if (install && !sys.which('depmod')) missing.push({ cmd: 'depmod', pkg: 'kmod' });
  const zip = { '.xz': ['xz', 'xz-utils'], '.zst': ['zstd', 'zstd'], '.gz': ['gzip', 'gzip'] }[h.compress];
  if (install && zip && !sys.which(zip[0]!)) missing.push({ cmd: zip[0]!, pkg: zip[1]! });
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))].join(' ');
  throw devmapError('ERR_DEVMAP_HOST_TOOLS', `building modules for ${h.release} needs ${missing.map((m) => m.cmd).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed; install with:\n  ${aptHint(pkgs)}`);
}

/** The compiler's first complaint: "file.c:12:5: error: ...", else the first line that says error. */
export function firstError(output: string): string {
  const lines = output.split('\n');
  return (lines.find((l) => /: (fatal )?error: /.test(l)) ?? lines.find((l) => /\berror\b/i.test(l)) ?? lines.find(Boolean) ?? '').trim();
}

/**
 * Builds the module folder `src` against `h` in `dir` (made from a copy of
 * `src` when missing; reused otherwise, where kbuild rebuilds only what
 * changed). Writes make's output to DIR/build.log.
 */
export function buildKmod(src: string, h: KernelHeaders, dir: string, sys: KmodSys = defaultSys): BuiltKmod {
  checkBuildTools(h, sys);
  if (!existsSync(dir)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    copyModuleSource(src, tmp);
    renameSync(tmp, dir);
  }
  const r = sys.run('make', modulesMakeArgs(h.dir, dir), { cwd: dir });
  const log = join(dir, 'build.log');
  writeFileSync(log, `${r.stdout}${r.stderr}`);
  if (r.status !== 0) {
    throw devmapError('ERR_DEVMAP_KMOD_BUILD', `${basename(src)} did not build against kernel ${h.release} (${h.dir}):\n  ${firstError(`${r.stderr}\n${r.stdout}`)}\nmake's whole output: ${log}`);
  }
  const kos = orderedKos(dir);
  if (!kos.length) throw devmapError('ERR_DEVMAP_KMOD_BUILD', `${basename(src)}: make made no .ko against ${h.release} (a Kbuild that builds nothing for this kernel?); see ${log}`);
  return { src, dir, kos };
}

/** lib/modules/RELEASE under `base`, where this kernel's modules_install and depmod put it (usr/lib/modules on merged-/usr kernels that say so). */
export function modulesDir(base: string, release: string): string {
  const dirs = [join(base, 'lib', 'modules', release), join(base, 'usr', 'lib', 'modules', release)];
  return dirs.find((d) => existsSync(join(d, INSTALL_DIR))) ?? dirs.find((d) => existsSync(d)) ?? dirs[0]!;
}

/** Installing into the machine itself (no INSTALL_MOD_PATH) needs root; staging does not. */
export function checkInstallRoot(h: KernelHeaders, modPath: string | undefined, sys: KmodSys = defaultSys): void {
  if (!modPath && !sys.isRoot()) {
    throw devmapError('ERR_DEVMAP_KMOD_ROOT', `installing into /lib/modules/${h.release} needs root: run it with sudo, or stage it elsewhere with --install-mod-path DIR (or INSTALL_MOD_PATH=DIR)`);
  }
}

export interface Installed {
  /** The module files modules_install wrote. */
  files: string[];
  /** lib/modules/RELEASE it wrote them under, where depmod wrote modules.dep. */
  moduleDir: string;
}

/**
 * make modules_install of built folders into `modPath` (INSTALL_MOD_PATH;
 * undefined: the machine itself, which needs root) under
 * lib/modules/RELEASE/updates/devmap, then depmod for that release.
 */
export function installKmods(built: BuiltKmod[], h: KernelHeaders, modPath: string | undefined, sys: KmodSys = defaultSys): Installed {
  checkBuildTools(h, sys, true);
  checkInstallRoot(h, modPath, sys);
  for (const b of built) {
    const r = sys.run('make', installMakeArgs(h.dir, b.dir, INSTALL_DIR, modPath), { cwd: b.dir });
    // A headers package has no signing key: kbuild says so and installs unsigned (|| true).
    if (r.status !== 0) throw devmapError('ERR_DEVMAP_KMOD_INSTALL', `make modules_install of ${basename(b.src)} failed:\n  ${firstError(`${r.stderr}\n${r.stdout}`)}`);
  }
  const moduleDir = modulesDir(modPath ?? '/', h.release);
  const names = new Set(built.flatMap((b) => b.kos.map((k) => basename(k))));
  const target = join(moduleDir, INSTALL_DIR);
  const files = existsSync(target) ? readdirSync(target).filter((f) => names.has(f.replace(/\.(xz|zst|gz)$/, ''))).map((f) => join(target, f)).sort() : [];
  if (files.length < names.size) throw devmapError('ERR_DEVMAP_KMOD_INSTALL', `make modules_install put ${files.length} of ${names.size} modules into ${target}`);
  // depmod -b BASE looks in BASE/lib/modules (or usr/lib/modules, as kmod was built).
  const d = sys.run('depmod', [...(modPath ? ['-b', modPath] : []), h.release]);
  if (d.status !== 0) throw devmapError('ERR_DEVMAP_KMOD_INSTALL', `depmod ${h.release} failed: ${d.stderr.trim().split('\n').pop()}`);
  return { files, moduleDir };
}
