// The commands of docs/ivshmem-guide.md, run as a reader would: the
// host <-> guest chat over an ivshmem-plain file, and two guests talking
// through doorbells on a devmap ivshmem-server. Three boots: each costs
// seconds under TCG.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'dist', 'cli.js');
const canBoot = existsSync(cli) && (process.getuid?.() === 0 || spawnSync('sh', ['-c', 'command -v qemu-system-x86_64']).status === 0);
const BOOT_MS = 240_000;

/** Runs a command from the project root; resolves with its status and output. */
function run(cmd: string[], started?: (p: ChildProcess) => void): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd[0]!, cmd.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (out += d));
    p.on('close', (status) => resolve({ status, out }));
    started?.(p);
  });
}

/** Resolves once `p` has printed `re` (or rejects when it exits first). */
function printed(p: ChildProcess, re: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const on = (d: Buffer) => {
      seen += d;
      if (re.test(seen)) resolve();
    };
    p.stdout!.on('data', on);
    p.stderr!.on('data', on);
    p.once('exit', () => reject(new Error(`exited before printing ${re}: ${seen}`)));
  });
}

describe.skipIf(!canBoot)('docs/ivshmem-guide.md (needs dist/ and QEMU, or root to install it)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'devmap-guide-'));
    const r = spawnSync(process.execPath, [cli, 'guest', 'image'], { encoding: 'utf8', timeout: 900_000 });
    expect(r.status, r.stderr).toBe(0);
    return () => rmSync(dir, { recursive: true, force: true });
  }, 900_000);

  it('host <-> guest: the host sends three lines over an ivshmem file, the guest answers each', async () => {
    const file = `/dev/shm/devmap-guide-${process.pid}`;
    try {
      let ready!: Promise<void>;
      const host = run([process.execPath, 'examples/ivshmem/host.mjs', file], (p) => (ready = printed(p, /channels ready/)));
      await ready;
      const guest = await run([process.execPath, cli, 'guest', 'run', '--ivshmem', file, '--with', 'examples/ivshmem', '--', 'node', 'examples/ivshmem/guest.mjs']);
      const h = await host;
      expect(guest.status, guest.out).toBe(0);
      expect(h.status, h.out).toBe(0);
      expect(guest.out).toMatch(/guest: 1024 KiB of ivshmem via module/);
      expect(h.out).toMatch(/guest says "HELLO FROM THE HOST"/);
      expect(h.out).toMatch(/guest says "Linux \d+\.\d+\.\S+"/);
      expect(h.out).toMatch(/guest says "bye!"/);
    } finally {
      rmSync(file, { force: true });
    }
  }, BOOT_MS);

  it('guest <-> guest: two guests on a devmap ivshmem-server find each other and ping-pong through doorbells', async () => {
    const sock = join(dir, 'ivs.sock');
    let server!: ChildProcess;
    let listening!: Promise<void>;
    const serverDone = run([process.execPath, cli, 'ivshmem-server', '-s', sock, '--size', '1M', '-n', '1'], (p) => {
      server = p;
      listening = printed(p, /Ctrl-C stops it/);
    });
    try {
      await listening;
      const guest = (role: string) => run([process.execPath, cli, 'guest', 'run', '--ivshmem-server', sock, '--with', 'examples/ivshmem', '--', 'node', 'examples/ivshmem/pair.mjs', role]);
      const [b, a] = await Promise.all([guest('b'), guest('a')]);
      expect(a.status, a.out).toBe(0);
      expect(b.status, b.out).toBe(0);
      for (let i = 1; i <= 5; i++) expect(a.out).toMatch(new RegExp(`guest a: "pong ${i}" after [\\d.]+ ms`));
      expect(b.out).toMatch(/guest b: a said bye/);
      // Each learnt the other's id from shared memory: the two lines name each other.
      const idA = /guest a: peer id (\d+), the other guest is peer (\d+)/.exec(a.out)!;
      const idB = /guest b: peer id (\d+), the other guest is peer (\d+)/.exec(b.out)!;
      expect([idA[1], idA[2]]).toEqual([idB[2], idB[1]]);
    } finally {
      server.kill('SIGINT');
      await serverDone;
    }
    expect(existsSync(sock)).toBe(false); // the server removes its socket when stopped
  }, BOOT_MS);

  it('refuses --ivshmem-server without a running server, and on a board without PCI', () => {
    const none = spawnSync(process.execPath, [cli, 'guest', 'run', '--ivshmem-server', join(dir, 'nothing.sock'), '--', 'true'], { encoding: 'utf8' });
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/no socket at .*nothing\.sock; start one first: devmap ivshmem-server -s/);
    const board = spawnSync(process.execPath, [cli, 'guest', 'run', '--machine', 'armhf-vexpress', '--ivshmem-server', join(dir, 'nothing.sock'), '--', 'true'], { encoding: 'utf8' });
    expect(board.status).not.toBe(0);
    expect(board.stderr).toMatch(/armhf-vexpress has no PCI bus/);
  });
});
