// The contracts of the guest tier, checked on the host: the shared-memory
// layouts that guest specs and host hooks import (test/guest/layouts.mjs),
// the devices each machine promises against its QEMU command line, and the
// rule that a spec whose device is missing fails where the machine lists
// that device and skips, with its reason, where it does not.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { MACHINES, type GuestDevice, type Machine } from '../../lib/harness/machines/machines.js';
import { qemuArgs } from '../../lib/harness/qemu/args.js';
import { listedSkips, readReport, skipLines } from '../../lib/harness/session/report.js';
import { IVSHMEM_MARKER_AT } from '../../lib/harness/session/session.js';
import { verdict } from '../guest/helpers/devices.js';
import { ALIGN, carve, checkRegions, PAIR, PLAIN } from '../guest/layouts.mjs';
import { tempDir } from '../helpers/tmp.js';

const root = process.cwd();
const end = (layout: Record<string, { at: number; size: number }>): number => Math.max(...Object.values(layout).map((r) => r.at + r.size));

describe('shared-memory layouts (test/guest/layouts.mjs)', () => {
  it('refuses regions that overlap or leave the memory, and carves disjoint aligned ones', () => {
    expect(() => checkRegions('m', 0x4000, { a: { at: 0, size: 0x2000 }, b: { at: 0x1000, size: 0x100 } })).toThrow(/regions a and b overlap at 0x1000/);
    expect(() => checkRegions('m', 0x4000, { a: { at: 0x3000, size: 0x2000 } })).toThrow(/region a \[0x3000, 0x5000\) is outside its 16384 bytes/);
    expect(() => carve('m', 2 * ALIGN, { a: 1, b: ALIGN + 1 })).toThrow(/region b .* is outside/);
    expect(() => carve('m', ALIGN, { a: 0 })).toThrow(/needs a positive size/);
    expect(carve('m', 3 * ALIGN, { a: 1, b: ALIGN, c: 8 })).toEqual({ a: { at: 0, size: 1 }, b: { at: ALIGN, size: ALIGN }, c: { at: 2 * ALIGN, size: 8 } });
  });

  it('PLAIN keeps the harness marker where the session writes it, first', () => {
    expect(PLAIN.marker.at).toBe(IVSHMEM_MARKER_AT);
    expect(Math.min(...Object.values(PLAIN).map((r) => r.at))).toBe(PLAIN.marker.at);
  });

  it('fits the memory every machine gives it', () => {
    for (const m of Object.values(MACHINES)) {
      if (m.ivshmem) expect(m.ivshmem.size, `${m.name} ivshmem-plain`).toBeGreaterThanOrEqual(end(PLAIN));
      if (m.ivshmemServer) expect(m.ivshmemServer.size, `${m.name} ivshmem server`).toBeGreaterThanOrEqual(end(PAIR));
    }
  });
});

/** The devices a machine's real QEMU command line (and board) gives its guests. */
function devicesFromArgs(m: Machine): GuestDevice[] {
  const args = qemuArgs(m, { accel: 'tcg', kernel: 'k', initrd: 'i', console: 'pipe', ivshmem: { path: 'f', size: 1 << 20 }, ivshmemServer: 's', hostSocket: 'h' });
  const devices = args.flatMap((a, i) => (args[i - 1] === '-device' ? [a.split(',')[0]!] : []));
  const boardClcd = m.machine === 'vexpress-a9'; // the board's own PL111, driven by devmap_clcd
  const virtioGpus = devices.filter((d) => d.startsWith('virtio-gpu')).length;
  const displays = (args.join(' ').includes('-vga std') ? 1 : 0) + devices.filter((d) => d === 'bochs-display').length + (boardClcd ? 1 : 0) + (m.debianModules.includes('virtio_gpu') ? virtioGpus : 0);
  const out: GuestDevice[] = [];
  if (devices.includes('ivshmem-plain')) out.push('ivshmem');
  if (devices.includes('ivshmem-doorbell')) out.push('doorbell');
  if (devices.includes('edu')) out.push('edu');
  if (displays >= 1) out.push('fb0');
  if (displays >= 2) out.push('fb1');
  if (displays >= 1 && m.fbcon === 'bound') out.push('fbcon');
  if (boardClcd) out.push('clcd');
  // A KMS card: a bochs display with the bochs module (without it, vesafb
  // drives -vga std), or virtio-gpu with virtio_gpu.
  const bochs = displays - (boardClcd ? 1 : 0) >= 1 && m.debianModules.includes('bochs');
  const virtioGpu = virtioGpus > 0 && m.debianModules.includes('virtio_gpu');
  if (bochs || virtioGpu) out.push('drm');
  if (virtioGpu) out.push('virtio-gpu');
  return out;
}

describe('machine devices (machine.devices, DEVMAP_DEVICES in the guest)', () => {
  it.each(Object.keys(MACHINES))('%s lists what its QEMU command line gives', (name) => {
    const m = MACHINES[name]!;
    expect([...m.devices].sort()).toEqual(devicesFromArgs(m).sort());
  });
});

describe('needs(): a missing device fails where the machine lists it, skips where it does not', () => {
  const env = { DEVMAP_MACHINE: 'x86_64', DEVMAP_DEVICES: 'ivshmem,edu,fb0,fb1' };

  it('decides run, skip or fail', () => {
    expect(verdict('edu', true, env)).toEqual({ run: true });
    expect(verdict('edu', false, env)).toEqual({ fail: "machine x86_64 lists edu, but it is missing: QEMU's edu device bound to devmap_edu (/dev/edu0)" });
    expect(verdict('clcd', false, env)).toEqual({ skip: 'machine x86_64 does not list clcd: the PL111 CLCD driven by devmap_clcd (/dev/fb0)' });
    expect(verdict('edu', false, {})).toMatchObject({ skip: expect.stringMatching(/not a devmap harness guest/) });
  });

  it('in a vitest run: the listed device fails, the other skips with its reason, and the report says so', () => {
    const dir = tempDir();
    const config = join(dir, 'vitest.config.mjs');
    writeFileSync(config, `export default { test: { root: ${JSON.stringify(root)}, include: ['test/host/fixtures/needs.spec.ts'] } };\n`);
    const report = join(dir, 'report.json');
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--config', config, '--reporter', 'json', '--outputFile.json', report], {
      cwd: root, encoding: 'utf8', env: { ...process.env, DEVMAP_MACHINE: 'fake', DEVMAP_DEVICES: 'edu,fb0' },
    });
    expect(r.status, r.stderr).toBe(1);
    const counts = readReport(report, root);
    expect(counts).toMatchObject({ passed: 1, failed: 1, skipped: 3 });
    expect(counts.failures).toEqual([{ name: 'test/host/fixtures/needs.spec.ts > edu, listed but absent has its edu', message: expect.stringMatching(/^Error: machine fake lists edu, but it is missing/) }]);
    expect(skipLines(counts.skips)).toEqual([
      '1 in test/host/fixtures/needs.spec.ts: machine fake does not list clcd: the PL111 CLCD driven by devmap_clcd (/dev/fb0)',
      '1 in test/host/fixtures/needs.spec.ts: a reason for the report',
      // A test's own skipIf() does not hide why its whole suite skipped.
      '1 in test/host/fixtures/needs.spec.ts: machine fake does not list fb1: a second framebuffer at /dev/fb1',
    ]);
    // The host's own check (scripts/test.mjs, CI=true): a skip of a device the machine lists.
    expect(listedSkips(counts.skips, ['edu', 'fb0'])).toEqual([]);
    expect(listedSkips(counts.skips, ['clcd'])).toEqual([
      { name: 'test/host/fixtures/needs.spec.ts > clcd, not listed and absent would draw on the CLCD', message: expect.stringMatching(/^skipped, but the machine lists clcd: machine fake does not list clcd/) },
    ]);
  });
});
