// The harness's own guest checks: Node and the addon run in the guest, and
// the ivshmem BAR mapped through sysfs (no driver) shows what the host wrote
// into the backing file before boot. What this writes at
// PLAIN.basicAnswer (layouts.mjs) is checked by the host after the run
// (basic.host.mjs).
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { mapFile, readMaps } from 'devmap';
import { needs } from './helpers/devices.js';
import { PLAIN } from './layouts.mjs';

const BDF = process.env.DEVMAP_IVSHMEM_BDF;
const MARKER = process.env.DEVMAP_IVSHMEM_MARKER ?? '';
const SIZE = Number(process.env.DEVMAP_IVSHMEM_SIZE ?? 0);
const dev = `/sys/bus/pci/devices/${BDF}`;

describe('the guest', () => {
  it('runs the host node with the addon built on the host', () => {
    expect(process.version).toMatch(/^v\d+\./);
    expect(readFileSync('/proc/cmdline', 'utf8')).toContain('panic=-1');
    expect(readMaps().some((v) => v.path.endsWith('devmap.node'))).toBe(true);
  });

  it('resolves import("devmap") from any folder', async () => {
    const mod = (await import('devmap')) as { mapFile?: unknown };
    expect(typeof mod.mapFile).toBe('function');
    expect(existsSync('/node_modules/devmap/package.json')).toBe(true);
  });
});

needs('ivshmem', BDF !== undefined && existsSync(dev)).describe('ivshmem BAR2 through sysfs resource2 (DEVMAP_IVSHMEM_BDF)', () => {
  let driver: string | undefined;

  // A bound driver has requested BAR2, and then mapping resource2 fails
  // with EINVAL (IO_STRICT_DEVMEM): step the driver aside for this file.
  beforeAll(() => {
    if (existsSync(`${dev}/driver`)) {
      driver = basename(readlinkSync(`${dev}/driver`));
      writeFileSync(`/sys/bus/pci/drivers/${driver}/unbind`, BDF!);
    }
    if (readFileSync(`${dev}/enable`, 'utf8').trim() === '0') writeFileSync(`${dev}/enable`, '1');
  });
  afterAll(() => {
    if (driver) writeFileSync(`/sys/bus/pci/drivers/${driver}/bind`, BDF!);
  });

  it('is the size of the backing file (DEVMAP_IVSHMEM_SIZE)', () => {
    const [start, end] = readFileSync(`${dev}/resource`, 'utf8').split('\n')[2]!.split(' ').map((x) => BigInt(x));
    expect(end! - start! + 1n).toBe(BigInt(SIZE));
  });

  it('reads the marker the host wrote before boot, and writes one back', () => {
    expect(MARKER, 'DEVMAP_IVSHMEM_MARKER').not.toBe('');
    using m = mapFile(`${dev}/resource2`, { length: SIZE });
    const text = Buffer.from(m.bytes.subarray(PLAIN.marker.at, PLAIN.marker.at + MARKER.length)).toString('latin1');
    expect(text).toBe(MARKER);
    const answer = Buffer.from(`guest saw ${MARKER}`, 'latin1');
    m.bytes.set(answer, PLAIN.basicAnswer.at);
    expect(Buffer.from(m.bytes.subarray(PLAIN.basicAnswer.at, PLAIN.basicAnswer.at + answer.length)).equals(answer)).toBe(true);
  });
});
