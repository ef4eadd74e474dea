// `devmap kmod install` as a user of each Debian suite runs it, against that
// suite's real kernel headers (the guest kernels the harness pins), then the
// staged modules loaded in a guest of that kernel with `devmap kmod load`.
// bookworm (6.1) is this host's own suite: the CLI runs here with --kdir.
// trixie (6.12) and sid (7.x) need their own userland (newer glibc for
// kbuild, gcc-14/gcc-16): the CLI runs with that suite's Node inside its
// build root, with the package, the cache and the staging folder bound at
// the same paths. One guest boot per suite. dkms builds the same module from
// its dkms.conf against the same headers.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import { buildRoot, runInRoot } from '../../lib/harness/image/buildroot.js';
import { cacheDir, type Log } from '../../lib/harness/image/cache.js';
import { ensureHostTools } from '../../lib/harness/image/hosttools.js';
import { prepareImage, type GuestImage } from '../../lib/harness/image/image.js';
import { SUITES, type SuiteName } from '../../lib/harness/machines/suites.js';
import { INSTALL_DIR, buildKmod, kernelGcc, modulesDir, moduleBytes, noteBuildId, parseModInfo, readHeaders, type ModInfo } from '../../lib/kmod/index.js';
import { packageRoot } from '../../lib/paths.js';
import { archiveReachable } from '../helpers/archive.js';
import { tempDir } from '../helpers/tmp.js';

const cli = join(packageRoot, 'dist', 'cli.js');
const version = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
const log: Log = (l) => process.stderr.write(`devmap: ${l}\n`);
const hostSuite = /^VERSION_CODENAME=(\S+)/m.exec(existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '')?.[1];
const MODULES = ['devmap_edu', 'devmap_ivshmem'];

const why = process.getuid?.() !== 0 ? 'needs root (build roots, QEMU, dkms)'
  : !existsSync(cli) ? 'needs dist/ (npx tsc -p .)'
  : (await archiveReachable()) ? '' : "the host's Debian archive is not reachable";

/** Build products in the package's own module folders: `devmap kmod` must never leave any. */
const junk = (): string[] => readdirSync(join(packageRoot, 'native', 'kmod'), { recursive: true, encoding: 'utf8' }).filter((p) => /\.(o|ko|mod|cmd)$|modules\.order$|Module\.symvers$/.test(p));

/**
 * Runs `argv` as a user of `suite` would: here when it is the host's own
 * suite, else in that suite's build root with `binds` (and the package and
 * the cache) at the same paths.
 */
function asUserOf(suite: SuiteName, headers: string, argv: string[], binds: string[]): string {
  if (suite === hostSuite) {
    const r = spawnSync(argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited with ${r.status}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  }
  const root = buildRoot(SUITES[suite], kernelGcc(headers), log);
  return runInRoot(root, argv, { cwd: binds[0]!, binds: [...binds, packageRoot, cacheDir()] });
}

/** The staged module `name` (lib/modules/ABI/updates/devmap/NAME.ko, or .ko.xz where the kernel compresses). */
function staged(stage: string, abi: string, name: string): string {
  const dir = join(modulesDir(stage, abi), INSTALL_DIR);
  const file = readdirSync(dir).find((f) => f.startsWith(`${name}.ko`));
  if (!file) throw new Error(`${name} is not staged in ${dir}: ${readdirSync(dir).join(' ')}`);
  return join(dir, file);
}

describe.skipIf(why !== '')(`devmap kmod against each suite's kernel${why && ` (skipped: ${why})`}`, () => {
  beforeAll(() => ensureHostTools(log, [{ cmd: 'dkms', pkg: 'dkms' }]), 300_000);

  describe.each(['bookworm', 'trixie', 'sid'] as SuiteName[])('%s', (suite) => {
    let img: GuestImage;
    let stage: string;
    let out: string;
    const info: Record<string, ModInfo> = {};

    beforeAll(() => {
      img = prepareImage('x86_64', log, suite);
      stage = tempDir();
      const before = junk();
      const start = Date.now();
      out = asUserOf(suite, img.kernel.headers, ['node', cli, 'kmod', 'install', '--kdir', img.kernel.headers, '--install-mod-path', stage], [stage]);
      log(`${suite}: devmap kmod install for ${img.kernel.abi} took ${((Date.now() - start) / 1000).toFixed(0)} s:\n${out}`);
      expect(junk()).toEqual(before);
      for (const m of MODULES) info[m] = parseModInfo(moduleBytes(staged(stage, img.kernel.abi, m)), m);
    }, 900_000);

    it(`stages ${MODULES.join(' and ')} under lib/modules/ABI/${INSTALL_DIR}, built for that kernel, in modules.dep`, () => {
      const abi = img.kernel.abi;
      const dir = modulesDir(stage, abi);
      expect(dir).toBe(join(stage, 'lib', 'modules', abi));
      const dep = readFileSync(join(dir, 'modules.dep'), 'utf8');
      for (const m of MODULES) {
        expect(out).toContain(`built ${m}.ko for ${abi}`);
        expect(staged(stage, abi, m).startsWith(join(dir, INSTALL_DIR, `${m}.ko`))).toBe(true);
        expect(dep).toMatch(new RegExp(`^${INSTALL_DIR}/${m}\\.ko(\\.xz)?:`, 'm'));
        expect(info[m]!.release, `${m} vermagic`).toBe(abi);
        expect(info[m]!.get('version')).toBe(version);
        expect(info[m]!.get('srcversion')).toMatch(/^[0-9A-F]{23}$/);
      }
      // clcd is an armhf module: not built for an x86_64 kernel.
      expect(readdirSync(join(dir, INSTALL_DIR)).some((f) => f.startsWith('devmap_clcd'))).toBe(false);
    });

    it('a guest of that kernel loads the staged files in place of its own (--reload), and they make their devices', () => {
      const script = [
        `devmap kmod load ivshmem --from ${stage}`,
        `devmap kmod load --reload ivshmem edu --from ${stage}; echo "load-status $?"`,
        `for m in ${MODULES.join(' ')}; do echo "sys $m $(cat /sys/module/$m/srcversion) $(od -An -tx1 -v /sys/module/$m/notes/.note.gnu.build-id | tr -d ' \\n')"; done`,
        'ls /dev/ivshmem0 /dev/edu0',
      ].join('\n');
      const start = Date.now();
      const r = spawnSync(process.execPath, [cli, 'guest', 'run', '--kernel', suite, '--machine', 'x86_64', '--with', stage, '--', 'sh', '-c', script], { encoding: 'utf8', timeout: 600_000 });
      log(`${suite}: guest boot and load took ${((Date.now() - start) / 1000).toFixed(0)} s:\n${r.stdout}`);
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      // The boot loaded the harness's own build of the same sources first.
      expect(r.stdout).toMatch(/^devmap_ivshmem is already loaded \(version [^)]*\); --reload replaces it$/m);
      expect(r.stdout).toMatch(/^load-status 0$/m);
      for (const m of MODULES) {
        const file = staged(stage, img.kernel.abi, m);
        expect(r.stdout).toContain(`reloaded ${m} from ${file} (version ${version}, srcversion ${info[m]!.get('srcversion')}`);
        const sys = new RegExp(`^sys ${m} (\\S+) ([0-9a-f]+)$`, 'm').exec(r.stdout);
        expect(sys, `${m} in /sys/module`).not.toBeNull();
        expect(sys![1]).toBe(info[m]!.get('srcversion'));
        // Same sources give the same srcversion; the build ID tells the staged build from the harness's.
        expect(noteBuildId(Buffer.from(sys![2]!, 'hex'))).toBe(info[m]!.buildId);
        const harnessKo = img.modules.flatMap((b) => b.kos).find((k) => basename(k) === `${m}.ko`)!;
        expect(parseModInfo(readFileSync(harnessKo), harnessKo).buildId).not.toBe(info[m]!.buildId);
      }
      expect(r.stdout).toMatch(/^\/dev\/ivshmem0$/m);
      expect(r.stdout).toMatch(/^\/dev\/edu0$/m);
    }, 600_000);

    it("dkms builds ivshmem from its dkms.conf against the same headers, in that suite's userland", () => {
      const tmp = tempDir();
      const src = join(tmp, 'src', `devmap-ivshmem-${version}`);
      cpSync(join(packageRoot, 'native', 'kmod', 'ivshmem'), src, { recursive: true });
      for (const d of ['tree', 'installed']) mkdirSync(join(tmp, d));
      const trees = `--dkmstree ${tmp}/tree --sourcetree ${tmp}/src --installtree ${tmp}/installed`;
      const dkms = spawnSync('sh', ['-c', 'command -v dkms'], { encoding: 'utf8' }).stdout.trim();
      const abi = img.kernel.abi;
      asUserOf(suite, img.kernel.headers, ['bash', '-c', `dkms add -m devmap-ivshmem -v ${version} ${trees} && dkms build -m devmap-ivshmem -v ${version} -k ${abi} --kernelsourcedir ${img.kernel.headers} ${trees}`], [tmp, dkms]);
      const dir = join(tmp, 'tree', 'devmap-ivshmem', version, abi, 'x86_64', 'module');
      const ko = readdirSync(dir).find((f) => f.startsWith('devmap_ivshmem.ko'))!;
      const built = parseModInfo(moduleBytes(join(dir, ko)), ko);
      expect(built.release).toBe(abi);
      expect(built.get('version')).toBe(version);
    }, 600_000);
  });

  describe.runIf(hostSuite === 'bookworm')('on this host, against 6.1', () => {
    let headers: string;
    beforeAll(() => {
      headers = prepareImage('x86_64', log, 'bookworm').kernel.headers;
    }, 900_000);

    it('dkms refuses clcd for an x86_64 kernel (BUILD_EXCLUSIVE: an ARM AMBA driver)', () => {
      const tmp = tempDir();
      cpSync(join(packageRoot, 'native', 'kmod', 'clcd'), join(tmp, 'src', `devmap-clcd-${version}`), { recursive: true });
      for (const d of ['tree', 'installed']) mkdirSync(join(tmp, d));
      const trees = ['--dkmstree', `${tmp}/tree`, '--sourcetree', `${tmp}/src`, '--installtree', `${tmp}/installed`];
      expect(spawnSync('dkms', ['add', '-m', 'devmap-clcd', '-v', version, ...trees]).status).toBe(0);
      const r = spawnSync('dkms', ['build', '-m', 'devmap-clcd', '-v', version, '-k', readHeaders(headers).release, '--kernelsourcedir', headers, ...trees], { encoding: 'utf8' });
      expect(r.status).toBe(77);
      expect(r.stdout + r.stderr).toMatch(/BUILD_EXCLUSIVE directive which does not match this kernel\/arch/);
    });

    it("a module that does not compile: the compiler's first error and the kernel release", () => {
      const src = join(tempDir(), 'edu');
      cpSync(join(packageRoot, 'native', 'kmod', 'edu'), src, { recursive: true });
      const main = join(src, 'edu_main.c');
      writeFileSync(main, readFileSync(main, 'utf8').replace('MODULE_LICENSE("GPL");', 'MODULE_LICENSE("GPL");\nint devmap_broken(void) { return undeclared_thing; }'));
      expect(() => buildKmod(src, readHeaders(headers), join(tempDir(), 'build'))).toThrow(
        /^edu did not build against kernel 6\.1\.0-\d+-amd64 \(.*\):\n {2}\S+edu_main\.c:\d+:\d+: error: ['‘]undeclared_thing['’] undeclared[^\n]*\nmake's whole output: \S+\/build\.log$/,
      );
    }, 300_000);
  });
});
