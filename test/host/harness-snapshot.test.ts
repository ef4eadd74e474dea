// `devmap guest run --snapshot` from the outside: the first run boots and
// saves the guest, the second restores it (the same boot, the host's ivshmem
// data kept, the command's output and status back), a corrupted snapshot is
// discarded with one message and the run boots instead. Three boots under
// TCG, in a snapshot folder of its own so the first run is always cold.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { devmapError } from '../../lib/errors.js';
import { MACHINES } from '../../lib/harness/machines/machines.js';
import { qemuArgs } from '../../lib/harness/qemu/args.js';
import { checkSnapshot, withSnapshot } from '../../lib/harness/qemu/snapshot.js';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const canBoot = existsSync(cli) && (process.getuid?.() === 0 || spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0);
const BOOT_MS = 240_000;

const snapshots = mkdtempSync(join(tmpdir(), 'devmap-snapshots-'));
const shm = `/dev/shm/devmap-snapshot-test-${process.pid}`;
// withSnapshot prunes the snapshot folder: this file's own, never the cache's.
process.env.DEVMAP_SNAPSHOTS = snapshots;

function guest(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'guest', 'run', ...args], { encoding: 'utf8', timeout: BOOT_MS, env: { ...process.env, DEVMAP_SNAPSHOTS: snapshots } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeAt(file: string, offset: number, text: string): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.from(text), 0, text.length, offset);
  } finally {
    closeSync(fd);
  }
}

afterAll(() => {
  rmSync(snapshots, { recursive: true, force: true });
  rmSync(shm, { force: true });
});

const readAt = (file: string, offset: number, length: number): string => readFileSync(file).subarray(offset, offset + length).toString('latin1');

// In the guest: the boot's id, the ivshmem BAR's first 16 bytes (what the
// host put there), then a word of the guest's own at 4096, and exit 3.
const script = [
  'cat /proc/sys/kernel/random/boot_id',
  `node --input-type=module -e 'const { Ivshmem } = await import("devmap"); const d = Ivshmem.open(); console.log(Buffer.from(d.memory.bytes.subarray(0, 16)).toString("latin1")); d.memory.bytes.set(Buffer.from("guest-wrote-this"), 4096); d.close()'`,
  'exit 3',
].join('; ');

describe('snapshot mode without a boot', () => {
  const launch = { accel: 'tcg', kernel: 'k', initrd: 'i', console: 'pipe', ivshmem: { path: '/dev/shm/x', size: 4 << 20 } } as const;
  const x86 = MACHINES.x86_64!;

  it('saves and restores with the same devices; only a restore waits for the state, paused', () => {
    const plain = qemuArgs(x86, launch);
    const save = qemuArgs(x86, { ...launch, snapshot: 'save' });
    const restore = qemuArgs(x86, { ...launch, snapshot: 'restore' });
    expect(plain.join(' ')).not.toMatch(/master=on|vmgenid|init_on_free|-incoming/);
    expect(save.join(' ')).toMatch(/ivshmem-plain,[^ ]*,master=on/);
    expect(save).toContain('vmgenid');
    expect(save[save.indexOf('-append') + 1]).toContain('init_on_free=1');
    expect(save.join(' ')).not.toContain('-incoming');
    expect(restore.filter((a) => !['-incoming', 'defer', '-S'].includes(a))).toEqual(save);
  });

  it('refuses the machines and modes it does not support, naming the ones it does', () => {
    expect(() => checkSnapshot(x86, {})).not.toThrow();
    expect(() => checkSnapshot(MACHINES['armhf-virt']!, {})).toThrow(/not for machine armhf-virt \(armhf guests are not supported yet\); it works on x86_64, x86_64-vesa32, x86_64-vesa24\b/);
    expect(() => checkSnapshot(MACHINES['x86_64-doorbell-pair']!, {})).toThrow(/machines with several guests/);
    expect(() => checkSnapshot(x86, { ivshmemServer: '/tmp/s' })).toThrow(/not with --ivshmem-server/);
    expect(() => checkSnapshot(x86, { mode: 'shell' })).toThrow(/not guest shell/);
  });

  it('a restore that fails is said once, its files removed, and the run boots', async () => {
    const file = join(snapshots, 'x86_64-test.vmstate');
    const meta = join(snapshots, 'x86_64-test.json');
    writeFileSync(file, 'state');
    writeFileSync(meta, JSON.stringify({ size: 5 }));
    const lines: string[] = [];
    const tries: boolean[] = [];
    const r = await withSnapshot({ file, meta }, (l) => lines.push(l), (restore) => {
      tries.push(restore);
      return restore ? Promise.reject(devmapError('ERR_DEVMAP_RESTORE', 'QEMU ended with 1')) : Promise.resolve('booted');
    });
    expect(r).toBe('booted');
    expect(tries).toEqual([true, false]);
    expect(lines).toEqual([`could not restore the snapshot ${file} (QEMU ended with 1); discarded it, booting instead`]);
    expect(existsSync(file) || existsSync(meta)).toBe(false);
  });

  it('a truncated snapshot (size not the recorded one) is not handed to QEMU', async () => {
    const file = join(snapshots, 'x86_64-short.vmstate');
    const meta = join(snapshots, 'x86_64-short.json');
    writeFileSync(file, 'sta');
    writeFileSync(meta, JSON.stringify({ size: 5 }));
    const tries: boolean[] = [];
    await withSnapshot({ file, meta }, () => undefined, (restore) => Promise.resolve(tries.push(restore)));
    expect(tries).toEqual([false]);
  });
});

describe.skipIf(!canBoot)('devmap guest run --snapshot (needs dist/ and QEMU)', () => {
  let first: ReturnType<typeof guest>;
  let bootId = '';

  beforeAll(() => {
    const r = spawnSync(process.execPath, [cli, 'guest', 'image'], { encoding: 'utf8', timeout: 900_000 });
    expect(r.status, r.stderr).toBe(0);
  }, 900_000);

  it('boots, saves the guest once it is ready, then runs the command', () => {
    first = guest('--snapshot', '--ivshmem', `${shm}:4M`, '--', 'sh', '-c', script);
    expect(first.stderr).toMatch(/saved a snapshot of this guest/);
    expect(first.stderr).not.toMatch(/restored a snapshot/);
    expect(first.status, first.stderr).toBe(3);
    bootId = first.stdout.split('\n')[0]!;
    expect(bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(readdirSync(snapshots).filter((f) => f.endsWith('.vmstate'))).toHaveLength(1);
  }, BOOT_MS);

  it('restores it on the next run: the same boot, the host data kept, output and status back', () => {
    expect(bootId, 'the first run').not.toBe('');
    writeAt(shm, 0, 'host-data-run-2!');
    writeAt(shm, 4096, '----------------');
    const r = guest('--snapshot', '--ivshmem', shm, '--', 'sh', '-c', script);
    expect(r.stderr).toMatch(/restored a snapshot \(\d+ ms\)/);
    expect(r.stderr).not.toMatch(/saved a snapshot/);
    // A boot makes a new boot_id; a restore continues the snapshot's boot.
    expect(r.stdout).toBe(`${bootId}\nhost-data-run-2!\n`);
    expect(r.status, r.stderr).toBe(3);
    expect(readAt(shm, 0, 16)).toBe('host-data-run-2!');
    expect(readAt(shm, 4096, 16)).toBe('guest-wrote-this');
  }, BOOT_MS);

  it('discards a corrupted snapshot with one message and boots instead', () => {
    const [file] = readdirSync(snapshots).filter((f) => f.endsWith('.vmstate'));
    expect(file, 'the snapshot of the first run').toBeDefined();
    writeAt(join(snapshots, file!), 0, 'not a QEMU migration stream');
    const r = guest('--snapshot', '--', 'cat', '/proc/sys/kernel/random/boot_id');
    expect(r.stderr.match(/could not restore the snapshot/g), r.stderr).toHaveLength(1);
    expect(r.stderr).toMatch(/discarded it, booting instead/);
    expect(r.stderr).toMatch(/saved a snapshot of this guest/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(r.stdout).not.toContain(bootId);
  }, BOOT_MS);

  it('says which machines it works on for one it does not', () => {
    const r = guest('--snapshot', '--machine', 'x86_64-doorbell-pair', '--', 'true');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--snapshot: not for machine x86_64-doorbell-pair \(machines with several guests are not supported yet\); it works on x86_64, /);
  }, 60_000);
});
