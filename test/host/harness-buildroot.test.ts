// Build roots (lib/harness/image/buildroot.ts): the package list per suite,
// and the real trixie root with gcc-14 in the normal cache (so the module
// builds that come later reuse it), with commands run inside it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';

import { buildRoot, removeSuperseded, resolvePackages, rootPackages, runInRoot } from '../../lib/harness/image/buildroot.js';
import { buildRootSkip } from '../helpers/archive.js';
import { tempDir } from '../helpers/tmp.js';

describe('the package list', () => {
  const groups = rootPackages(12);

  it("takes each need's first name the suite has: bookworm's older names where trixie's are missing", () => {
    const bookworm = new Set(['gcc-12', 'make', 'libc6-dev', 'libc6-dev-armhf-cross', 'libc6-dev-arm64-cross', 'libelf1', 'libssl3', 'zlib1g', 'dwarves', 'perl', 'gcc-12-arm-linux-gnueabihf', 'gcc-12-aarch64-linux-gnu', 'nodejs', 'kmod', 'xz-utils']);
    const picked = resolvePackages(groups, (p) => (bookworm.has(p) ? '1' : undefined), 'bookworm');
    expect(new Set(picked)).toEqual(bookworm);
    const trixie = resolvePackages(rootPackages(14), () => '1', 'trixie');
    expect(trixie).toEqual(expect.arrayContaining(['gcc-14', 'libelf1t64', 'libssl3t64', 'pahole', 'gcc-14-aarch64-linux-gnu']));
  });

  it('names every need the suite cannot meet', () => {
    expect(() => resolvePackages(groups, (p) => (/gcc-12|pahole|dwarves/.test(p) ? undefined : '1'), 'sid'))
      .toThrow('sid has no gcc-12, pahole or dwarves, gcc-12-arm-linux-gnueabihf, gcc-12-aarch64-linux-gnu: no build root for it');
  });
});

describe('superseded roots', () => {
  it('removes the roots of the same suite and compiler with another package list, except one a run is inside', () => {
    const dir = tempDir();
    for (const n of ['trixie-gcc14-new', 'trixie-gcc14-old', 'trixie-gcc14-busy', 'sid-gcc16-other', 'trixie-gcc14-half.tmp-1']) mkdirSync(join(dir, n, 'usr'), { recursive: true });
    // A run inside holds the root's runs lock shared, as runInRoot does.
    const busy = spawn('flock', ['--shared', join(dir, 'trixie-gcc14-busy', '.devmap-runs.lock'), 'sleep', '30'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !existsSync(join(dir, 'trixie-gcc14-busy', '.devmap-runs.lock')); i++) spawnSync('sleep', ['0.05']);
      spawnSync('sleep', ['0.2']); // from the file's creation to flock holding it
      removeSuperseded(dir, join(dir, 'trixie-gcc14-new'), 'trixie-gcc14-');
      expect(readdirSync(dir).sort()).toEqual(['sid-gcc16-other', 'trixie-gcc14-busy', 'trixie-gcc14-half.tmp-1', 'trixie-gcc14-new']);
    } finally {
      busy.kill();
    }
  });
});

const why = await buildRootSkip();

// Cold: mmdebstrap fetches ~150 packages (1-3 minutes); warm: the cached root.
describe.skipIf(why !== '')(`the trixie build root with gcc-14${why && ` (skipped: ${why})`}`, () => {
  const trixie = { name: 'trixie', stable: true };
  let root: string;

  beforeAll(() => {
    root = buildRoot(trixie, 14, (l) => process.stderr.write(`devmap: ${l}\n`));
  }, 300_000);

  it('has the compiler the kernel names', () => {
    expect(runInRoot(root, ['gcc-14', '--version'])).toMatch(/^gcc-14 \(Debian 14\.[^]*\) 14\./);
  });

  it("has the suite's Node (20.19 in trixie)", () => {
    expect(runInRoot(root, ['node', '-p', 'process.versions.node'])).toMatch(/^20\.(19|[2-9]\d)\.\d+\n$/);
  });

  it('builds static programs for armhf and arm64 in a bound host folder the host then reads', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'hello.c'), 'int main(void) { return 0; }\n');
    runInRoot(root, ['sh', '-c', 'arm-linux-gnueabihf-gcc-14 -static -o arm hello.c && aarch64-linux-gnu-gcc-14 -static -o arm64 hello.c && echo done > note'], { cwd: dir, binds: [dir] });
    // ELF e_machine: 40 is ARM, 183 AArch64.
    expect(readFileSync(join(dir, 'arm')).readUInt16LE(18)).toBe(40);
    expect(readFileSync(join(dir, 'arm64')).readUInt16LE(18)).toBe(183);
    expect(readFileSync(join(dir, 'note'), 'utf8')).toBe('done\n');
    expect(existsSync(join(root, dir)), 'the mount point made in the root is gone').toBe(false);
  });

  it('mounts /proc inside, and leaves nothing mounted outside', () => {
    expect(runInRoot(root, ['sh', '-c', 'test -r /proc/self/limits && echo proc'])).toBe('proc\n');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
  });

  it('throws with the tail of stderr when the command fails', () => {
    expect(() => runInRoot(root, ['sh', '-c', 'echo it broke >&2; exit 3'])).toThrow(/exited with 3\nit broke/);
  });

  it('refuses a bind whose mount point would lead out of the root through a symlink in it', () => {
    const [bind, elsewhere] = [tempDir(), tempDir()];
    const point = join(root, bind);
    symlinkSync(elsewhere, point);
    try {
      expect(() => runInRoot(root, ['true'], { binds: [bind] })).toThrow(`would be mounted outside the root (${point} leads to ${elsewhere})`);
    } finally {
      rmSync(point, { force: true });
    }
    expect(() => runInRoot(root, ['true'], { binds: ['relative/path'] })).toThrow(/must be an absolute path that exists on the host/);
  });

  it('is made once: a second call returns the cached root at once', () => {
    const start = Date.now();
    expect(buildRoot(trixie, 14, () => {})).toBe(root);
    expect(Date.now() - start).toBeLessThan(1000);
  });
});

describe('without root', () => {
  it('says that making or entering a build root needs root, before touching anything', () => {
    const uid = vi.spyOn(process, 'getuid').mockReturnValue(65534);
    try {
      expect(() => runInRoot('/', ['true'])).toThrow(/running a command in a build root needs root/);
      // A compiler no root is cached for, so that it would have to be made.
      expect(() => buildRoot({ name: 'sid', stable: false }, 98, () => {})).toThrow(/making the sid build root needs root/);
    } finally {
      uid.mockRestore();
    }
  });
});
