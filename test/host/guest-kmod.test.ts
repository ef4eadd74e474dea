// `devmap guest run --kmod` when things go wrong (docs/testing-drivers.md's
// table), on the example module in examples/mmap-driver: a module that does
// not load, one that does not compile, bad options. The passing run of that
// page's commands is test/host/installed.test.ts, from a user's repository
// with devmap installed from its tarball. One boot: it costs seconds under TCG.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const canBoot = existsSync(cli) && (process.getuid?.() === 0 || spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0);
const BOOT_MS = 180_000;
const EXAMPLE = 'examples/mmap-driver';

function guest(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'guest', 'run', ...args], { cwd: root, encoding: 'utf8', timeout: BOOT_MS });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!canBoot)('devmap guest run --kmod (needs dist/ and QEMU, or root to install it)', () => {
  beforeAll(() => {
    const r = spawnSync(process.execPath, [cli, 'guest', 'image'], { encoding: 'utf8', timeout: 900_000 });
    expect(r.status, r.stderr).toBe(0);
  }, 900_000);

  it('fails the run with exit 125 and the kernel\'s words when the module refuses to load', () => {
    const r = guest('--kmod', EXAMPLE, '--kparam', 'mmapdemo.pages=0', '--', 'sh', '-c', 'echo the command ran');
    expect(r.status).toBe(125);
    expect(r.stdout).not.toMatch(/the command ran/);
    expect(r.stdout).toMatch(/mmapdemo\.ko did not load, so the command did not run/);
    expect(r.stdout).toMatch(/mmapdemo: pages=0, want 1\.\.256/);
  }, BOOT_MS);

  it('shows the compiler error, without booting, when the module does not build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'devmap-kmod-'));
    try {
      writeFileSync(join(dir, 'Kbuild'), 'obj-m += broken.o\n');
      writeFileSync(join(dir, 'broken.c'), '#include <linux/module.h>\nint broken(void) { return undeclared_thing; }\nMODULE_LICENSE("GPL");\n');
      const r = guest('--kmod', dir, '--', 'true');
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/the module did not build against the guest kernel/);
      expect(r.stderr).toMatch(/undeclared_thing/);
      expect(r.stderr).not.toMatch(/accelerator:/); // failed before the boot
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, BOOT_MS);

  it('says what is wrong with a --kmod folder or a --kparam', () => {
    const missing = guest('--kmod', 'no/such/dir', '--', 'true');
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/--kmod no\/such\/dir: no such folder/);
    const bad = guest('--kparam', 'pages=3', '--', 'true');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--kparam "pages=3": want MODULE\.PARAM=VALUE/);
  }, BOOT_MS);
});
