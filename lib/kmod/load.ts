// Loading the companion modules into the running kernel (`devmap kmod
// load`): with modprobe when they are installed into the machine's own
// /lib/modules, else with insmod from a staged tree (INSTALL_MOD_PATH of
// `devmap kmod install`), dependencies first, after checking that the file
// was built for this kernel.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { devmapError } from '../errors.js';
import { INSTALL_DIR, modulesDir } from './build.js';
import { noteBuildId, parseModInfo, type ModInfo } from './modinfo.js';
import { defaultSys, type KmodSys } from './sys.js';

export interface LoadOptions {
  /** The staging root `install` wrote into (its INSTALL_MOD_PATH); undefined: the machine's own modules, through modprobe. */
  from?: string;
  /** Unload a loaded copy first (rmmod), instead of reporting it as already loaded. */
  reload?: boolean;
}

export interface LoadReport {
  module: string;
  outcome: 'loaded' | 'reloaded' | 'already loaded';
  /** The file insmod loaded (staged loads). */
  file?: string;
  /** /sys/module/NAME/version and srcversion once loaded. */
  version?: string;
  srcversion?: string;
  /** The loaded module's GNU build ID (/sys/module/NAME/notes): which build of those sources it is. */
  buildId?: string;
}

/** kmod's own name rule: - and _ are the same in module names. */
const canonical = (name: string): string => name.replace(/-/g, '_');

const DECOMPRESSORS: Record<string, [string, string]> = { '.xz': ['xz', 'xz-utils'], '.zst': ['zstd', 'zstd'] };

/** A module file's ELF bytes: .ko as is, .ko.gz/.ko.xz/.ko.zst decompressed. */
export function moduleBytes(file: string, sys: KmodSys = defaultSys): Buffer {
  if (file.endsWith('.ko')) return readFileSync(file);
  if (file.endsWith('.gz')) return gunzipSync(readFileSync(file));
  const ext = Object.keys(DECOMPRESSORS).find((e) => file.endsWith(e));
  if (!ext) throw devmapError('ERR_DEVMAP_KMOD', `${file}: not a kernel module file (.ko, .ko.xz, .ko.zst or .ko.gz)`);
  const [tool, pkg] = DECOMPRESSORS[ext]!;
  if (!sys.which(tool)) throw devmapError('ERR_DEVMAP_HOST_TOOLS', `${file} is ${tool}-compressed and ${tool} is not installed: sudo apt-get install ${pkg}`);
  const r = sys.run(tool, ['-dc', file]);
  if (r.status !== 0 || !r.out) throw devmapError('ERR_DEVMAP_KMOD', `${tool} -dc ${file} failed: ${r.stderr.trim()}`);
  return r.out;
}

/** modules.dep of a module tree: module name -> its file and the files it needs. */
function readModulesDep(dir: string): Map<string, { file: string; deps: string[] }> {
  const map = new Map<string, { file: string; deps: string[] }>();
  for (const line of readFileSync(join(dir, 'modules.dep'), 'utf8').split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const name = canonical(basename(m[1]!).replace(/\.ko(\.\w+)?$/, ''));
    map.set(name, { file: join(dir, m[1]!), deps: m[2]!.split(/\s+/).filter(Boolean) });
  }
  return map;
}

function sysInfo(name: string, sys: KmodSys): Pick<LoadReport, 'version' | 'srcversion' | 'buildId'> {
  const read = (f: string): string | undefined => sys.sysModule(name, f)?.toString().trim() || undefined;
  const [version, srcversion] = [read('version'), read('srcversion')];
  const buildId = noteBuildId(sys.sysModule(name, 'notes/.note.gnu.build-id'));
  return { ...(version ? { version } : {}), ...(srcversion ? { srcversion } : {}), ...(buildId ? { buildId } : {}) };
}

function runOrThrow(sys: KmodSys, cmd: string, args: string[], what: string): void {
  if (!sys.which(cmd)) throw devmapError('ERR_DEVMAP_HOST_TOOLS', `${cmd} is not installed: sudo apt-get install kmod`);
  const r = sys.run(cmd, args);
  if (r.status !== 0) throw devmapError('ERR_DEVMAP_KMOD_LOAD', `${what}: ${cmd} ${args.join(' ')} said: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`);
}

/** Why there is nothing to load for `release` under `from`, and what to do. */
function nothingStaged(from: string, release: string): Error {
  const staged = ['lib', 'usr/lib'].flatMap((d) => (existsSync(join(from, d, 'modules')) ? readdirSync(join(from, d, 'modules')) : []));
  const have = staged.length ? `${from} holds modules for ${staged.join(', ')} only` : `${from} holds no lib/modules/${release}`;
  return devmapError('ERR_DEVMAP_KMOD_LOAD', `${have}; this kernel is ${release}: stage them for it with devmap kmod install --install-mod-path ${from} (against ${release}'s headers)`);
}

/** insmod of a staged module, after checking that it was built for the running kernel. */
function insmodStaged(name: string, file: string, bytes: Buffer, info: ModInfo, release: string, sys: KmodSys): void {
  if (info.release !== release) {
    throw devmapError('ERR_DEVMAP_KMOD_LOAD', `${file} was built for kernel ${info.release ?? '(no vermagic)'}; this kernel is ${release}: build and install it against this kernel's headers (devmap kmod install)`);
  }
  // busybox's insmod (a guest's) takes no compressed file: give every insmod the plain ELF.
  const tmp = file.endsWith('.ko') ? undefined : mkdtempSync(join(tmpdir(), 'devmap-kmod-'));
  try {
    const plain = tmp ? join(tmp, `${name}.ko`) : file;
    if (tmp) writeFileSync(plain, bytes);
    runOrThrow(sys, 'insmod', [plain], `${name} did not load (dmesg has the kernel's reason)`);
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The modules `install` put under DIR/updates/devmap (ivshmem names devmap_ivshmem too), in name order. */
function installedModules(dir: string): string[] {
  const at = join(dir, INSTALL_DIR);
  if (!existsSync(at)) return [];
  return readdirSync(at).filter((f) => /\.ko(\.\w+)?$/.test(f)).map((f) => canonical(f.replace(/\.ko(\.\w+)?$/, ''))).sort();
}

/** Module names for what the user typed: ivshmem, devmap-ivshmem and devmap_ivshmem are all devmap_ivshmem. */
function pick(names: string[], installed: string[], where: string): string[] {
  if (!names.length) return installed;
  return [...new Set(names.map((n) => {
    const hit = [canonical(n), `devmap_${canonical(n).replace(/^devmap_/, '')}`].find((c) => installed.includes(c));
    if (!hit) throw devmapError('ERR_DEVMAP_KMOD_NAME', `no devmap module "${n}" is installed ${where}; installed: ${installed.join(', ')}`);
    return hit;
  }))];
}

/**
 * Loads the modules `install` put into the running kernel's
 * lib/modules/RELEASE/updates/devmap (`names`: ivshmem, edu..., default
 * all of them), in order. From the machine's own tree with modprobe; from
 * a staged tree (`from`) with insmod, after what each depends on (from
 * there, else with modprobe).
 */
export function loadKmods(names: string[], opts: LoadOptions = {}, sys: KmodSys = defaultSys): LoadReport[] {
  if (!sys.isRoot()) throw devmapError('ERR_DEVMAP_KMOD_ROOT', 'loading kernel modules needs root: run it with sudo');
  const release = sys.kernelRelease();
  const dir = modulesDir(opts.from ?? '/', release);
  const installed = installedModules(dir);
  if (!installed.length || !existsSync(join(dir, 'modules.dep'))) {
    if (opts.from) throw nothingStaged(opts.from, release);
    throw devmapError('ERR_DEVMAP_KMOD_LOAD', `no devmap modules are installed for the running kernel ${release} (${join(dir, INSTALL_DIR)}): sudo devmap kmod install`);
  }
  const modules = pick(names, installed, `for ${release} in ${dir}`);
  const staged = opts.from ? readModulesDep(dir) : undefined;
  const reports: LoadReport[] = [];
  const seen = new Set<string>();
  const load = (name: string, wanted: boolean): void => {
    seen.add(name);
    const was = sys.loaded(name);
    if (was && !(wanted && opts.reload)) {
      if (wanted) reports.push({ module: name, outcome: 'already loaded', ...sysInfo(name, sys) });
      return;
    }
    if (was) runOrThrow(sys, 'rmmod', [name], `${name} could not be unloaded (is a device of it still open?)`);
    let file: string | undefined;
    if (staged) {
      const entry = staged.get(name);
      if (!entry) {
        if (wanted) throw devmapError('ERR_DEVMAP_KMOD_LOAD', `${name} is in ${dir} but its modules.dep does not list it: run devmap kmod install --install-mod-path ${opts.from} again`);
        runOrThrow(sys, 'modprobe', [name], `${name}, which a staged module needs, did not load`);
        return;
      }
      const bytes = moduleBytes(entry.file, sys);
      const info = parseModInfo(bytes, entry.file);
      for (const dep of info.depends) if (!seen.has(canonical(dep))) load(canonical(dep), false);
      insmodStaged(name, entry.file, bytes, info, release, sys);
      file = entry.file;
    } else {
      runOrThrow(sys, 'modprobe', [name], `${name} did not load`);
    }
    if (wanted) reports.push({ module: name, outcome: was ? 'reloaded' : 'loaded', ...(file ? { file } : {}), ...sysInfo(name, sys) });
  };
  for (const m of modules) load(m, true);
  return reports;
}
