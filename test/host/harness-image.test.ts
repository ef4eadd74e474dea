// Pieces of the guest image builder that can be checked without booting:
// the cpio writer against busybox's cpio (the guest's own), module
// dependency order from the real Debian kernel, sizes and names.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeCpio } from '../../lib/harness/image/cpio.js';
import { prepareImage, type GuestImage } from '../../lib/harness/image/image.js';
import { resolveModules } from '../../lib/harness/image/kdeps.js';
import { shellQuote } from '../../lib/harness/image/cache.js';
import { isPow2, prepareHostFile } from '../../lib/ivshmem/host-file.js';

const dir = mkdtempSync(join(tmpdir(), 'devmap-image-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('names and sizes', () => {
  it('refuses an ivshmem size QEMU would abort on, past 2^32 too', () => {
    expect(() => prepareHostFile({ path: join(dir, 'shm'), size: 3 << 20 }, 0)).toThrow(/power of two/);
    // 6 GiB: a 32-bit `n & (n - 1)` took it for a power of two.
    expect(isPow2(6 * 2 ** 30)).toBe(false);
    expect(() => prepareHostFile({ path: join(dir, 'big'), size: 6 * 2 ** 30 }, 0)).toThrow(/power of two/);
    expect(isPow2(8 * 2 ** 30)).toBe(true);
    expect(isPow2(2 ** 31)).toBe(true);
  });

  it('quotes a command line for the guest shell', () => {
    expect(shellQuote(['node', '-e', "console.log('a b')"])).toBe(`node -e 'console.log('\\''a b'\\'')'`);
  });
});

// Needs the cached kernel and busybox; on a cold cache this downloads them.
describe.skipIf(spawnSync('sh', ['-c', 'command -v dpkg && command -v apt-get']).status !== 0)('against the real guest packages', () => {
  let image: GuestImage;
  beforeAll(() => {
    image = prepareImage('x86_64', () => {});
  }, 900_000);

  it('writes a cpio archive that busybox cpio unpacks to the same files, modes and links', () => {
    const src = join(dir, 'hello.txt');
    writeFileSync(src, 'hello\n');
    const archive = join(dir, 'a.cpio');
    writeCpio(archive, [
      { type: 'dir', path: '/etc' },
      { type: 'file', path: '/etc/hello.txt', from: src, mode: 0o640 },
      { type: 'data', path: '/etc/run.sh', data: 'echo hi\n', mode: 0o755 },
      { type: 'symlink', path: '/etc/link', target: 'hello.txt' },
    ]);
    const out = join(dir, 'out');
    const r = spawnSync('sh', ['-c', `mkdir -p ${out} && cd ${out} && ${image.kernel.busybox} cpio -i -d < ${archive}`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'etc/hello.txt'), 'utf8')).toBe('hello\n');
    expect(statSync(join(out, 'etc/hello.txt')).mode & 0o777).toBe(0o640);
    expect(statSync(join(out, 'etc/run.sh')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(out, 'etc/link')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(out, 'etc/link'))).toBe('hello.txt');
  });

  it('orders Debian modules after their dependencies', () => {
    // 6.12 ships modules as .ko.xz and builds the virtio ones in (modules.builtin): those are not loaded, so have no place.
    const order = resolveModules(image.kernel.modules, ['bochs', 'virtio_console']).map((p) => p.replace(/^.*\//, '').replace(/\.ko(\.xz)?$/, ''));
    expect(order).toContain('bochs');
    for (const [dep, user] of [['drm', 'drm_kms_helper'], ['ttm', 'drm_ttm_helper'], ['drm_vram_helper', 'bochs'], ['virtio_ring', 'virtio'], ['virtio', 'virtio_console']]) {
      if (order.includes(user!)) expect(order.indexOf(dep!), `${dep} before ${user} in ${order.join(' ')}`).toBeLessThan(order.indexOf(user!));
    }
    expect(() => resolveModules(image.kernel.modules, ['no_such_module'])).toThrow(/no_such_module/);
  });

  it('caches: a second prepareImage builds nothing new', () => {
    const again = prepareImage('x86_64', () => {});
    expect(again.initrd).toBe(image.initrd);
    expect(existsSync(again.kernel.vmlinux)).toBe(true);
  });
});
