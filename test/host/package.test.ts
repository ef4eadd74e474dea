// The package as users get it: what `npm pack` puts in the tarball, and what
// a project that installs it with --ignore-scripts (npm, pnpm) loads -- the
// prebuilt addon, with no compiler run, on this host's Node and on the
// Node majors of other Debian suites (their build roots' own nodejs).
// Source builds happen only where no prebuild loads.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { buildRoot, runInRoot } from '../../lib/harness/image/buildroot.js';
import { cacheDir } from '../../lib/harness/image/cache.js';
import { ARCHES } from '../../lib/harness/machines/arches.js';
import { SUITES } from '../../lib/harness/machines/suites.js';
import { readElf } from '../helpers/elf.js';
import { packedTarball, pnpmMissing, projectRoot, scratchProject, PNPM } from '../helpers/pack.js';
import { buildRootSkip } from '../helpers/archive.js';
import { tempDir } from '../helpers/tmp.js';

const HOST = `linux-${process.arch}`;
/** What each prebuild must be: ELF class and e_machine (EM_X86_64, EM_AARCH64, EM_ARM). */
const ELF: Record<string, { bits: number; machine: number }> = {
  'linux-x64': { bits: 64, machine: 62 },
  'linux-arm64': { bits: 64, machine: 183 },
  'linux-arm': { bits: 32, machine: 40 },
};

/** Run in a project that installed devmap: which addon it loaded, and that it maps memory. */
const PROBE = `const entry = import.meta.resolve('devmap');
const devmap = await import(entry);
const { addonPath } = await import(new URL('./native.js', entry));
const m = devmap.mapFile('/proc/self/fd/' + devmap.memfd('probe', devmap.PAGE_SIZE));
m.write32(4, 0x600dcafe);
const mapped = [...new Set(devmap.readMaps().map((v) => v.path).filter((p) => p.endsWith('.node')))];
console.log(JSON.stringify({ node: process.versions.node, pageSize: devmap.PAGE_SIZE, word: m.read32(4), addonPath, mapped }));`;

interface Probe {
  node: string;
  pageSize: number;
  word: number;
  addonPath: string;
  mapped: string[];
}

function probe(project: string): Probe {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: project, encoding: 'utf8', env: { ...process.env, DEVMAP_ADDON: '' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Probe;
}

/** The installed package's prebuild for this host, as Node resolves it (pnpm: through its symlink). */
const hostPrebuild = (project: string): string => realpathSync(join(project, 'node_modules', 'devmap', 'prebuilds', HOST, 'devmap.node'));

function expectPrebuildLoaded(project: string, p: Probe): void {
  expect(p.addonPath).toBe(hostPrebuild(project));
  expect(p.addonPath).toMatch(new RegExp(`/node_modules/devmap/prebuilds/${HOST}/devmap\\.node$`));
  expect(p.mapped).toEqual([p.addonPath]);
  expect(p.pageSize).toBeGreaterThanOrEqual(4096);
  expect(p.word).toBe(0x600dcafe);
  // No compiler ran: an install script would have left build/ beside the prebuilds.
  expect(existsSync(join(project, 'node_modules', 'devmap', 'build'))).toBe(false);
}

let tarball: string;
let unpacked: string;
let files: string[];

beforeAll(() => {
  tarball = packedTarball();
  unpacked = tempDir();
  const r = spawnSync('tar', ['-xzf', tarball, '-C', unpacked], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar could not unpack ${tarball}: ${r.stderr}`);
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [relative(join(unpacked, 'package'), join(d, e.name))]));
  files = walk(join(unpacked, 'package')).sort();
}, 900_000);

describe('the tarball', () => {
  it('carries dist/, the sources a source build and the kernel modules need, the guest files and docs', () => {
    for (const f of ['package.json', 'LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli.js', 'dist/native.js', 'binding.gyp', 'native/addon/addon.cc', 'native/addon/common.h',
      'native/CMakeLists.txt', 'native/toolchain-arm64.cmake', 'native/toolchain-armhf.cmake', 'native/kmod/ivshmem/Kbuild', 'native/kmod/edu/devmap_edu.h',
      'qemu/guest/init.sh', 'qemu/guest.lock.json', 'scripts/install.mjs', 'scripts/build-addon.mjs', 'scripts/node-gyp.mjs', 'docs/prebuilds.md']) {
      expect(files, f).toContain(f);
    }
  });

  it('carries no tests, artifacts, caches, build folders, build junk, node_modules or release-time scripts', () => {
    const folders = (f: string): string[] => f.split('/').slice(0, -1);
    const bad = files.filter((f) =>
      folders(f).some((d) => ['test', 'artifacts', 'build', 'node_modules', '.cache', 'cache'].includes(d)) ||
      // Source maps point at lib/*.ts, which the package does not carry.
      /\.(o|ko|mod|mod\.c|cmd|tgz|log|map)$/.test(f) || /(^|\/)(Module\.symvers|modules\.order|smoke)$/.test(f) ||
      // Scripts: only what installing and running need (a source build; the harness's cross builds).
      /^scripts\/(?!(install|build-addon|node-gyp)\.mjs$)/.test(f));
    expect(bad).toEqual([]);
    // The TypeScript sources and the benchmark drivers stay in the repository (dist/ is what runs).
    expect(files.filter((f) => /^(lib|bench|examples)\//.test(f))).toEqual([]);
  });

  it('has one prebuild per guest arch, and nothing else in prebuilds/', () => {
    const expected = Object.values(ARCHES).map((a) => `prebuilds/linux-${a.nodeArch}/devmap.node`).sort();
    expect(expected).toHaveLength(3);
    expect(files.filter((f) => f.startsWith('prebuilds/'))).toEqual(expected);
  });

  it.each(Object.keys(ELF))('%s/devmap.node is a stripped ELF for its machine that registers an N-API module', (dir) => {
    const bytes = readFileSync(join(unpacked, 'package', 'prebuilds', dir, 'devmap.node'));
    const elf = readElf(bytes);
    expect({ bits: elf.bits, machine: elf.machine }).toEqual(ELF[dir]);
    expect(elf.exports).toContain('napi_register_module_v1');
    expect(elf.sections).toContain('.dynsym');
    expect(elf.sections.filter((s) => s === '.symtab' || s.startsWith('.debug'))).toEqual([]);
    // Built in a staging copy: none of this machine's folders end up in the bytes.
    for (const path of [projectRoot, cacheDir()]) expect(bytes.includes(Buffer.from(path)), path).toBe(false);
  });
});

describe('installed with npm install --ignore-scripts', () => {
  let project: string;
  beforeAll(() => {
    project = scratchProject(tarball);
  }, 300_000);

  it(`loads prebuilds/${HOST}/devmap.node on this host's Node ${process.versions.node}`, () => {
    const p = probe(project);
    expect(p.node).toBe(process.versions.node);
    expectPrebuildLoaded(project, p);
  });

  it('npm rebuild devmap runs the install script, which keeps the prebuild and compiles nothing', () => {
    const r = spawnSync('npm', ['rebuild', 'devmap', '--foreground-scripts'], { cwd: project, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`devmap: using prebuilds/${HOST}/devmap.node`);
    expectPrebuildLoaded(project, probe(project));
  });
});

describe('where the package has no prebuild for the host', () => {
  it('npm rebuild devmap builds the addon from the sources in the tarball, and that build is loaded', () => {
    const project = scratchProject(tarball);
    const pkg = join(project, 'node_modules', 'devmap');
    rmSync(join(pkg, 'prebuilds', HOST), { recursive: true });
    const failed = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], { cwd: project, encoding: 'utf8', env: { ...process.env, DEVMAP_ADDON: '' } });
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain(`devmap: the native addon is not built for ${HOST}, and this package has prebuilds for ${Object.keys(ELF).filter((d) => d !== HOST).sort().join(', ')} only`);
    expect(failed.stderr).toContain('"npm rebuild devmap"');

    const r = spawnSync('npm', ['rebuild', 'devmap', '--foreground-scripts'], { cwd: project, encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('devmap: building the addon from source (No native build was found');
    const p = probe(project);
    expect(p.addonPath).toBe(realpathSync(join(pkg, 'build', 'Release', 'devmap.node')));
    expect(p.word).toBe(0x600dcafe);
  }, 300_000);
});

const pnpmWhy = pnpmMissing();
if (pnpmWhy) console.warn(`package.test: skipping the pnpm install: ${pnpmWhy}`);

describe.skipIf(pnpmWhy !== undefined)(`installed with ${PNPM} install --ignore-scripts${pnpmWhy ? ` (skipped: ${pnpmWhy})` : ''}`, () => {
  it(`loads prebuilds/${HOST}/devmap.node through pnpm's symlinked node_modules`, () => {
    const project = scratchProject(tarball, { manager: 'pnpm' });
    expect(readdirSync(join(project, 'node_modules')).includes('.pnpm')).toBe(true);
    expectPrebuildLoaded(project, probe(project));
  }, 300_000);
});

describe('scripts/prepack.mjs', () => {
  /** A copy of what the check reads: the script, the compiled arch list, the addon sources, the prebuilds. */
  function packageCopy(): string {
    const dir = tempDir();
    for (const f of ['dist/harness/machines/arches.js', 'binding.gyp', 'native/addon', 'prebuilds']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      cpSync(join(unpacked, 'package', f), join(dir, f), { recursive: true, preserveTimestamps: true });
    }
    mkdirSync(join(dir, 'scripts'));
    cpSync(join(projectRoot, 'scripts', 'prepack.mjs'), join(dir, 'scripts', 'prepack.mjs'));
    // npm packs every file with one fixed mtime: the sources an hour old, the prebuilds ten minutes.
    const ago = (ms: number): Date => new Date(Date.now() - ms);
    for (const f of ['binding.gyp', ...readdirSync(join(dir, 'native', 'addon')).map((n) => `native/addon/${n}`)]) utimesSync(join(dir, f), ago(3_600_000), ago(3_600_000));
    for (const d of Object.keys(ELF)) utimesSync(join(dir, 'prebuilds', d, 'devmap.node'), ago(600_000), ago(600_000));
    return dir;
  }
  const check = (dir: string) => spawnSync(process.execPath, [join(dir, 'scripts', 'prepack.mjs'), '--check-only'], { encoding: 'utf8' });

  it('passes with every prebuild in place, newer than the sources', () => {
    const r = check(packageCopy());
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('refuses a missing, foreign or stale prebuild and says to run npm run prebuild', () => {
    const dir = packageCopy();
    rmSync(join(dir, 'prebuilds', 'linux-arm'), { recursive: true });
    cpSync(join(dir, 'prebuilds', 'linux-x64', 'devmap.node'), join(dir, 'prebuilds', 'linux-arm64', 'devmap.node'));
    writeFileSync(join(dir, 'native', 'addon', 'addon.cc'), '// changed after the prebuilds\n', { flag: 'a' });
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('prebuilds/linux-x64/devmap.node is older than native/addon or binding.gyp');
    expect(r.stderr).toContain('prebuilds/linux-arm/devmap.node is missing');
    expect(r.stderr).toContain('prebuilds/linux-arm64/devmap.node is not a linux-arm64 ELF (e_machine 62, expected 183)');
    expect(r.stderr).toContain('run "npm run prebuild"');
  });
});

const rootWhy = await buildRootSkip();

// The build roots the companion modules of each suite's kernel are built
// in (gcc-14 for trixie's 6.12, gcc-16 for sid's 7.x), so no root is made
// for this test alone; each carries its suite's nodejs.
const OTHER_NODES = [
  { suite: SUITES.trixie, gcc: 14, major: 20 },
  { suite: SUITES.sid, gcc: 16, major: 24 },
];

describe.skipIf(rootWhy !== '')(`the ${HOST} prebuild under other Node majors${rootWhy && ` (skipped: ${rootWhy})`}`, () => {
  let project: string;
  beforeAll(() => {
    project = scratchProject(tarball);
  }, 300_000);

  it.each(OTHER_NODES)("loads in the $suite.name build root under the suite's Node $major", ({ suite, gcc, major }) => {
    const root = buildRoot(suite, gcc, (l) => process.stderr.write(`devmap: ${l}\n`));
    const out = runInRoot(root, ['node', '--input-type=module', '-e', PROBE], { cwd: project, binds: [project] });
    const p = JSON.parse(out) as Probe;
    expect(Number(p.node.split('.')[0])).toBe(major);
    expectPrebuildLoaded(project, p);
  }, 900_000);
});
