// The QEMU harness itself, from the outside: `devmap guest run` boots a real
// guest (real kernel, TCG or KVM), streams output, returns the exit status,
// fails fast on a panic, and leaves no QEMU process, socket or /dev/shm file
// behind. Few boots on purpose: each costs seconds under TCG.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const canBoot = existsSync(cli) && (process.getuid?.() === 0 || spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0);
const BOOT_MS = 180_000;

function guest(...args: string[]): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [cli, 'guest', 'run', ...args], { encoding: 'utf8', timeout: BOOT_MS });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** What a guest run may leave behind: run folders, fresh /dev/shm files, QEMU processes using them. */
function leftovers(): string[] {
  const shm = readdirSync('/dev/shm').filter((f) => /^devmap-\d+-/.test(f));
  const runs = readdirSync(tmpdir()).filter((f) => /^devmap-[A-Za-z0-9]{6}$/.test(f));
  const qemus = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return /qemu-system[^\0]*\0[^]*devmap-status/.test(readFileSync(`/proc/${p}/cmdline`, 'latin1'));
    } catch {
      return false;
    }
  });
  return [...shm, ...runs, ...qemus.map((p) => `qemu pid ${p}`)];
}

describe.skipIf(!canBoot)('devmap guest run (needs dist/ and QEMU, or root to install it)', () => {
  beforeAll(() => {
    // Downloads and builds on a cold cache; later boots reuse it.
    const r = spawnSync(process.execPath, [cli, 'guest', 'image'], { encoding: 'utf8', timeout: 900_000 });
    expect(r.status, r.stderr).toBe(0);
  }, 900_000);

  it('prints what the guest command prints and exits 0', () => {
    const r = guest('--', 'node', '-e', 'console.log(6*7)');
    expect(r.stdout).toBe('42\n');
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/accelerator: (TCG|KVM)/);
  }, BOOT_MS);

  it("exits with the guest command's status", () => {
    expect(guest('--', 'sh', '-c', 'exit 7').status).toBe(7);
  }, BOOT_MS);

  it('brings --with files in, and the project is usable from any folder', () => {
    const file = join(tmpdir(), `devmap-with-${process.pid}.txt`);
    writeFileSync(file, 'brought along\n');
    try {
      const script = `cat ${file}; cd /tmp && node --input-type=module -e 'const m = await import("devmap"); console.log(typeof m.mapFile)' && devmap --help | head -n 1`;
      const r = guest('--with', file, '--', 'sh', '-c', script);
      expect(r.stdout.split('\n').slice(0, 3)).toEqual(['brought along', 'function', expect.stringMatching(/^devmap <command>/)]);
      expect(r.status).toBe(0);
    } finally {
      rmSync(file, { force: true });
    }
  }, BOOT_MS);

  it('fails fast on a kernel panic, shows it, and leaves nothing behind', async () => {
    const before = leftovers();
    const r = guest('--timeout', '120', '--', 'sh', '-c', 'echo c > /proc/sysrq-trigger');
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/guest kernel panicked: .*Kernel panic - not syncing: sysrq triggered crash/);
    expect(r.ms).toBeLessThan(60_000); // panic=-1 + -no-reboot, not the 120 s timeout
    // Our run removed its files before it exited. Other host test files boot
    // guests at the same time: what is new here and theirs goes away when
    // they end; a leak of ours stays.
    let left = leftovers().filter((x) => !before.includes(x));
    for (let waited = 0; left.length > 0 && waited < 100_000; waited += 2000) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const now = leftovers();
      left = left.filter((x) => now.includes(x));
    }
    expect(left).toEqual([]);
  }, BOOT_MS);
});
