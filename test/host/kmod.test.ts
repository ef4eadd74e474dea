// lib/kmod and `devmap kmod` without building anything: the dkms.conf of
// each module folder (read the way dkms reads it, by bash) against the
// Kbuild, the sources and package.json; which modules a name or an arch
// picks; what a kernel build tree says; and the errors a user can act on,
// reached through a fake system interface (no make, not root, a module in
// use) or through the CLI itself. test/host/kmod-suites.test.ts builds,
// stages and loads them for real.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { checkBuildTools, checkInstallRoot, firstError, kbuildModules, loadKmods, moduleArches, moduleSources, readHeaders, selectModules, type KmodSys } from '../../lib/kmod/index.js';
import { findHeaders } from '../../lib/commands/kmod.js';
import { tempDir } from '../helpers/tmp.js';

const root = process.cwd();
const cli = join(root, 'dist', 'cli.js');
const pkgVersion = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

/** dkms.conf's variables as dkms sees them: sourced by bash with dkms's variables set. */
function readDkmsConf(dir: string): Record<string, string> {
  const script = `kernel_source_dir=/KSD kernelver=KVER dkms_tree=/DT; . ./dkms.conf
for v in PACKAGE_NAME PACKAGE_VERSION 'BUILT_MODULE_NAME[0]' 'DEST_MODULE_LOCATION[0]' 'MAKE[0]' CLEAN AUTOINSTALL BUILD_EXCLUSIVE_ARCH BUILD_EXCLUSIVE_CONFIG; do
  eval "printf '%s=%s\\n' \\"$v\\" \\"\\\${$v-}\\""
done`;
  const r = spawnSync('bash', ['-euc', script], { cwd: dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** The arch dkms compares BUILD_EXCLUSIVE_ARCH with (uname -m) on each guest arch. */
const UNAME_M: Record<string, string> = { x86_64: 'x86_64', armhf: 'armv7l', arm64: 'aarch64' };

describe('dkms.conf of each module folder', () => {
  const folders = moduleSources();

  it('covers every folder under native/kmod (ivshmem, edu, clcd)', () => {
    expect(folders.map((f) => basename(f))).toEqual(expect.arrayContaining(['clcd', 'edu', 'ivshmem']));
    for (const f of folders) expect(existsSync(join(f, 'dkms.conf')), f).toBe(true);
  });

  it.each(moduleSources().map((f) => [basename(f), f]))('%s: names the Kbuild\'s module, its sources, the package version, and builds it with the Makefile', (name, dir) => {
    const c = readDkmsConf(dir);
    const [mod, ...more] = kbuildModules(dir);
    expect(more).toEqual([]);
    expect(c).toMatchObject({ PACKAGE_NAME: `devmap-${name}`, PACKAGE_VERSION: pkgVersion, 'BUILT_MODULE_NAME[0]': mod, 'DEST_MODULE_LOCATION[0]': '/updates/dkms', AUTOINSTALL: 'yes' });
    // The module's objects (NAME-y := a.o b.o, else NAME.o) have their .c files.
    const kbuild = readFileSync(join(dir, 'Kbuild'), 'utf8');
    const objs = new RegExp(`^${mod}-y\\s*:?=\\s*(.+)$`, 'm').exec(kbuild)?.[1]?.trim().split(/\s+/) ?? [`${mod}.o`];
    for (const o of objs) expect(existsSync(join(dir, o.replace(/\.o$/, '.c'))), `${name}/${o}`).toBe(true);
    // MAKE and CLEAN go through the folder's Makefile with the kernel dkms names.
    expect(c['MAKE[0]']).toBe('make KDIR=/KSD modules');
    expect(c.CLEAN).toBe('make KDIR=/KSD clean');
    expect(readFileSync(join(dir, 'Makefile'), 'utf8')).toMatch(/^modules:\n\t\$\(MAKE\) -C \$\(KDIR\) M=\$\(CURDIR\) modules$/m);
    // The module's MODULE_VERSION comes from this file.
    expect(kbuild).toContain('$(src)/dkms.conf');
  });

  it.each(moduleSources().map((f) => [basename(f), f]))("%s: builds on dkms's arches exactly where devmap.json says", (_name, dir) => {
    const c = readDkmsConf(dir);
    const arches = moduleArches(dir);
    for (const [arch, uname] of Object.entries(UNAME_M)) {
      const dkmsBuilds = !c.BUILD_EXCLUSIVE_ARCH || new RegExp(c.BUILD_EXCLUSIVE_ARCH).test(uname);
      expect(dkmsBuilds, `${arch} (${uname})`).toBe(!arches || arches.includes(arch));
    }
  });
});

describe('which modules', () => {
  it('default: every folder that builds for the arch; clcd only on armhf', () => {
    expect(selectModules([], 'x86_64').map((s) => basename(s))).toEqual(['edu', 'ivshmem']);
    expect(selectModules([], 'armhf').map((s) => basename(s))).toEqual(['clcd', 'edu', 'ivshmem']);
    expect(selectModules(['devmap_ivshmem', 'ivshmem', 'devmap-edu'], 'x86_64').map((s) => basename(s))).toEqual(['ivshmem', 'edu']);
  });

  it('an unknown name lists the valid ones; a module of another arch says which arch it is for', () => {
    expect(() => selectModules(['ivshmen'], 'x86_64')).toThrow('no companion module "ivshmen"; the modules are: clcd (armhf only), edu, ivshmem');
    expect(() => selectModules(['clcd'], 'x86_64')).toThrow('clcd builds for armhf only (its devmap.json), and this kernel is x86_64');
  });
});

/** A minimal build tree: what Debian's linux-headers package has that we read. */
function fakeHeaders(config: string, files: Record<string, string> = {}): string {
  const dir = tempDir();
  writeFileSync(join(dir, 'Makefile'), 'all:\n');
  writeFileSync(join(dir, '.config'), config);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

describe('a kernel build tree', () => {
  it("takes the release from utsrelease.h, not Debian 12's kernel.release (which says the upstream version)", () => {
    const dir = fakeHeaders('CONFIG_X86_64=y\nCONFIG_GCC_VERSION=120200\nCONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0"\nCONFIG_MODULE_COMPRESS_NONE=y\n', {
      'include/generated/utsrelease.h': '#define UTS_RELEASE "6.1.0-57-amd64"\n',
      'include/config/kernel.release': '6.1.192\n',
    });
    expect(readHeaders(dir)).toEqual({ dir, release: '6.1.0-57-amd64', gcc: 12, compiler: 'gcc-12', arch: 'x86_64', compress: '', btf: false });
  });

  it("knows 6.12's compressed modules, its BTF and its triplet compiler", () => {
    const dir = fakeHeaders('CONFIG_X86_64=y\nCONFIG_GCC_VERSION=140200\nCONFIG_CC_VERSION_TEXT="x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0"\nCONFIG_MODULE_COMPRESS_XZ=y\nCONFIG_MODULE_COMPRESS_ALL=y\nCONFIG_DEBUG_INFO_BTF_MODULES=y\n', {
      'include/config/kernel.release': '6.12.118+deb13-amd64\n',
    });
    expect(readHeaders(dir)).toMatchObject({ release: '6.12.118+deb13-amd64', gcc: 14, compiler: 'x86_64-linux-gnu-gcc-14', compress: '.xz', btf: true });
  });

  it('missing headers name the Debian package and --kdir', () => {
    expect(() => findHeaders(undefined, '9.9.9-devmap-test')).toThrow(
      'no headers of the running kernel 9.9.9-devmap-test at /lib/modules/9.9.9-devmap-test/build; install them with\n  sudo apt-get install linux-headers-9.9.9-devmap-test\nor build against another kernel\'s headers with --kdir DIR',
    );
    expect(() => findHeaders(tempDir(), '9.9.9')).toThrow(/is not a kernel build tree .*sudo apt-get install linux-headers-9\.9\.9\)/);
  });
});

/** A system with only the programs in `have`, recording what it runs. */
function fakeSys(have: string[], over: Partial<KmodSys> = {}): KmodSys & { ran: string[] } {
  const ran: string[] = [];
  return {
    ran,
    run: (cmd, args) => (ran.push([cmd, ...args].join(' ')), { status: 0, stdout: '', stderr: '' }),
    which: (cmd) => (have.includes(cmd) ? `/usr/bin/${cmd}` : undefined),
    isRoot: () => true,
    kernelRelease: () => '6.1.0-57-amd64',
    sysModule: () => undefined,
    loaded: () => false,
    ...over,
  };
}

describe('errors that say what to do', () => {
  const h = { dir: '/k', release: '6.12.118+deb13-amd64', gcc: 14, compiler: 'x86_64-linux-gnu-gcc-14', compress: '.xz', btf: true };

  it('no make or compiler: build-essential and the gcc-N the headers name; install also needs depmod and xz', () => {
    expect(() => checkBuildTools(h, fakeSys([]))).toThrow(
      'building modules for 6.12.118+deb13-amd64 needs make, x86_64-linux-gnu-gcc-14, pahole, which are not installed; install with:\n  sudo apt-get install build-essential gcc-14 pahole',
    );
    expect(() => checkBuildTools(h, fakeSys(['make', 'x86_64-linux-gnu-gcc-14', 'pahole']))).not.toThrow();
    expect(() => checkBuildTools(h, fakeSys(['make', 'x86_64-linux-gnu-gcc-14', 'pahole']), true)).toThrow(/needs depmod, xz, which are not installed; install with:\n {2}sudo apt-get install kmod xz-utils/);
  });

  it('installing into / or loading needs root; staging does not', () => {
    const user = fakeSys([], { isRoot: () => false });
    expect(() => checkInstallRoot(h, undefined, user)).toThrow(/installing into \/lib\/modules\/6\.12\.118\+deb13-amd64 needs root: run it with sudo, or stage it elsewhere with --install-mod-path DIR/);
    expect(() => checkInstallRoot(h, '/tmp/stage', user)).not.toThrow();
    expect(() => loadKmods([], {}, user)).toThrow('loading kernel modules needs root: run it with sudo');
  });

  it('nothing staged for the running kernel: says what is staged and how to stage for this one', () => {
    const stage = tempDir();
    mkdirSync(join(stage, 'lib', 'modules', '6.12.118+deb13-amd64'), { recursive: true });
    expect(() => loadKmods(['ivshmem'], { from: stage }, fakeSys([]))).toThrow(
      `${stage} holds modules for 6.12.118+deb13-amd64 only; this kernel is 6.1.0-57-amd64: stage them for it with devmap kmod install --install-mod-path ${stage} (against 6.1.0-57-amd64's headers)`,
    );
  });

  it("a compile error shows the compiler's first error line", () => {
    const out = "make -C /k M=/b modules\n  CC [M]  /b/a.o\n/b/a.c:2:29: error: 'undeclared_thing' undeclared (first use in this function)\n/b/a.c:2:29: note: each undeclared identifier\nmake[2]: *** [a.o] Error 1\n";
    expect(firstError(out)).toBe("/b/a.c:2:29: error: 'undeclared_thing' undeclared (first use in this function)");
  });
});

describe.runIf(existsSync(cli))('devmap kmod on the command line (needs dist/: tsc)', () => {
  const devmap = (...args: string[]) => spawnSync(process.execPath, [cli, 'kmod', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('--help teaches: the three commands, examples, dkms', () => {
    const r = devmap('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/devmap kmod build \[modules\.\.\]/);
    expect(r.stdout).toMatch(/devmap kmod install \[modules\.\.\]/);
    expect(r.stdout).toMatch(/devmap kmod load \[modules\.\.\]/);
    expect(r.stdout).toMatch(/Examples:[\s\S]*linux-headers-\$\(uname -r\)[\s\S]*dkms install/);
    expect(devmap('load', '--help').stdout).toMatch(/--reload[\s\S]*Examples:[\s\S]*--reload ivshmem edu --from/);
  });

  it('an unknown module, or a --kdir without headers: one line saying what to do, exit 1', () => {
    const bad = devmap('build', 'ivshmen');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('devmap: no companion module "ivshmen"; the modules are: clcd (armhf only), edu, ivshmem\n');
    const empty = tempDir();
    const r = devmap('install', '--kdir', empty, '--install-mod-path', tempDir());
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^devmap: --kdir ${empty} is not a kernel build tree .*sudo apt-get install linux-headers-`));
  });
});
