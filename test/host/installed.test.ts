// devmap as a user has it: packed, installed from the tarball into a scratch
// project with --ignore-scripts (no compiler runs), and the harness driven
// from that project's node_modules -- docs/testing-drivers.md's commands on
// a repository laid out as that page says (the example module as driver/,
// its node:test suite as test/), then each ARM guest loading the prebuild
// of its own arch from the installed package. Three boots.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { cacheDir } from '../../lib/harness/image/cache.js';
import { packedTarball, pnpmMissing, scratchProject } from '../helpers/pack.js';

const root = join(import.meta.dirname, '..', '..');
const BOOT_MS = 300_000;
const why = process.getuid?.() !== 0 ? 'needs root (the harness installs QEMU and builds modules)' : '';

/** What a guest prints about devmap's addon and one device mapping, as JSON on one line. */
const PROBE = `import('devmap').then((d) => {
  const shm = d.Ivshmem.open();
  const vma = d.findVma(d.readMaps(), shm.memory.address);
  const addon = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => l.endsWith('.node') && l.includes('devmap'));
  console.log('PROBE ' + JSON.stringify({ arch: process.arch, vma: vma && { path: vma.path, size: Number(vma.end - vma.start) }, addon: addon && addon.split(/\\s+/).pop(), dep: typeof d.mapFile }));
  shm.close();
})`;

function probe(stdout: string): { arch: string; vma?: { path: string; size: number }; addon?: string } {
  const line = stdout.split('\n').find((l) => l.startsWith('PROBE '));
  expect(line, stdout).toBeDefined();
  return JSON.parse(line!.slice('PROBE '.length));
}

describe.skipIf(why !== '')(`devmap installed from its tarball into a user's project${why && ` (skipped: ${why})`}`, () => {
  let proj: string;

  /** `npx devmap ARGS` in the user's project. */
  function npx(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('npx', ['--no-install', 'devmap', ...args], { cwd: proj, encoding: 'utf8', timeout: BOOT_MS, env: { ...process.env, npm_config_yes: 'false' } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  beforeAll(() => {
    // A stable place: the guest images of an installed package are keyed by its path.
    proj = scratchProject(packedTarball(), { dir: join(cacheDir(), 'scratch', 'my-driver') });
    // docs/testing-drivers.md's layout: the module in driver/, its suite in test/.
    mkdirSync(join(proj, 'driver'), { recursive: true });
    for (const f of ['Kbuild', 'mmapdemo.c']) cpSync(join(root, 'examples', 'mmap-driver', f), join(proj, 'driver', f));
    cpSync(join(root, 'examples', 'mmap-driver', 'test'), join(proj, 'test'), { recursive: true });
    // A dependency of the user's own, linked the way npm links a file: dependency.
    mkdirSync(join(proj, 'lib', 'greeting'), { recursive: true });
    writeFileSync(join(proj, 'lib', 'greeting', 'package.json'), JSON.stringify({ name: 'greeting', version: '1.0.0', type: 'module', main: 'index.js' }));
    writeFileSync(join(proj, 'lib', 'greeting', 'index.js'), "export const greeting = 'hello from the user\\'s own package';\n");
    const r = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', './lib/greeting'], { cwd: proj, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  }, 900_000);

  it('installed without running a compiler: no build/ in the package', () => {
    const pkg = join(proj, 'node_modules', 'devmap');
    expect(existsSync(join(pkg, 'dist', 'cli.js'))).toBe(true);
    expect(existsSync(join(pkg, 'build'))).toBe(false);
    expect(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).name).toBe('devmap');
  });

  it("npx devmap guest run --kmod driver --with .: the user's driver builds and loads, its node:test suite passes, their own package imports, the prebuild maps a device", () => {
    const r = npx('guest', 'run', '--kmod', 'driver', '--kparam', 'mmapdemo.pages=8', '--with', '.', '--', 'sh', '-c',
      `node --test test/ && node -e "import('greeting').then((g) => console.log(g.greeting))" && node -e "${PROBE.replace(/"/g, '\\"')}"`);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^# pass 4$/m);
    expect(r.stdout).toMatch(/^# fail 0$/m);
    expect(r.stdout).toContain("hello from the user's own package");
    const p = probe(r.stdout);
    expect(p.arch).toBe('x64');
    expect(p.addon).toBe(join(proj, 'node_modules', 'devmap', 'prebuilds', 'linux-x64', readdirOne(join(proj, 'node_modules', 'devmap', 'prebuilds', 'linux-x64'))));
    expect(p.vma).toEqual({ path: '/dev/ivshmem0', size: expect.any(Number) });
    expect(p.vma!.size).toBeGreaterThan(0);
  }, BOOT_MS);

  it.each([['armhf-virt', 'arm'], ['arm64-virt', 'arm64']])('the %s guest loads the linux-%s prebuild from the installed package (no compiler in the guest)', (machine, arch) => {
    const r = npx('guest', 'run', '--machine', machine, '--', 'node', '-e', PROBE);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const p = probe(r.stdout);
    expect(p.arch).toBe(arch);
    const dir = join(proj, 'node_modules', 'devmap', 'prebuilds', `linux-${arch}`);
    expect(p.addon).toBe(join(dir, readdirOne(dir)));
    expect(p.vma?.path).toBe('/dev/ivshmem0');
    // The harness did not cross-build anything for an installed package.
    expect(r.stderr).not.toMatch(/cross-building the addon/);
  }, BOOT_MS);
});

// pnpm links every package from node_modules/.pnpm: the guest must hold the
// links and the folders behind them for Node to resolve as it does here.
const noPnpm = why || pnpmMissing() || '';
describe.skipIf(noPnpm !== '')(`devmap installed by pnpm${noPnpm && ` (skipped: ${noPnpm})`}`, () => {
  it("devmap guest run from a pnpm project: the CLI (yargs through pnpm's links) and the library work in the guest", () => {
    const proj = scratchProject(packedTarball(), { manager: 'pnpm', dir: join(cacheDir(), 'scratch', 'pnpm-project') });
    const cli = join(proj, 'node_modules', 'devmap', 'dist', 'cli.js');
    const r = spawnSync(process.execPath, [cli, 'guest', 'run', '--', 'sh', '-c', `devmap --help && node -e "${PROBE.replace(/"/g, '\\"')}"`], { cwd: proj, encoding: 'utf8', timeout: BOOT_MS });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^  devmap guest <command> /m);
    const p = probe(r.stdout);
    expect(p.addon).toMatch(/\/node_modules\/\.pnpm\/devmap@[^/]+\/node_modules\/devmap\/prebuilds\/linux-x64\/devmap\.node$/);
    expect(p.vma?.path).toBe('/dev/ivshmem0');
  }, BOOT_MS);
});

/** The one .node file of a prebuilds/<platform>-<arch> folder. */
function readdirOne(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.node'));
  expect(files, dir).toHaveLength(1);
  return files[0]!;
}
