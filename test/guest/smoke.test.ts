// The smoke set: what every kernel suite and arch must do even where npm
// test does not run the full set. The guest booted and its modules loaded
// (the session fails the run on any insmod failure); then one mapping per
// device the machine has, and the screen as QEMU shows it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

import { Edu, Framebuffer, Ivshmem, findVma, readMaps, setConsoleMode, fbconBound, testCard } from 'devmap';
import { needs } from './helpers/devices.js';
import { diffPixels, screenDiff } from './helpers/host.js';
import { PLAIN } from './layouts.mjs';

const MARKER = process.env.DEVMAP_IVSHMEM_MARKER ?? '';

describe('the guest kernel', () => {
  it('is the one the image was built for, and our modules are loaded', () => {
    const abi = readFileSync('/etc/devmap/abi', 'utf8').trim();
    expect(readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()).toBe(abi);
    // /init loads every companion module of the image (lib/modules/devmap) at boot.
    const ours = readdirSync('/lib/modules/devmap').filter((f) => f.endsWith('.ko')).map((f) => f.slice(0, -3));
    expect(ours.length).toBeGreaterThan(0);
    const loaded = readFileSync('/proc/modules', 'utf8').split('\n').map((l) => l.split(' ')[0]);
    expect(ours.filter((m) => !loaded.includes(m))).toEqual([]);
  });
});

// The host writes the marker into the ivshmem-plain backing file; a doorbell
// device (x86_64-doorbell-pair) shares its ivshmem server's memory instead.
const plain = Ivshmem.list().find((d) => d.variant === 'plain' && d.node !== null);

needs('ivshmem', plain !== undefined).describe('ivshmem', () => {
  it('maps the ivshmem-plain device through the module and reads what the host wrote', () => {
    using s = Ivshmem.open({ address: plain!.address });
    expect(s.path).toBe('module');
    expect(Buffer.from(s.memory.bytes.subarray(PLAIN.marker.at, PLAIN.marker.at + MARKER.length)).toString('latin1')).toBe(MARKER);
    expect(findVma(readMaps(), s.memory.address)?.path).toBe(plain!.node);
  });
});

needs('edu', existsSync('/dev/edu0')).describe('edu', () => {
  it('maps a DMA buffer and moves bytes through the device and back', async () => {
    using edu = Edu.open();
    using buf = edu.allocDma(4096);
    for (let i = 0; i < 1000; i++) buf.bytes[i] = (i * 7) & 0xff;
    await edu.dmaToDevice(buf, { length: 1000 });
    buf.bytes.fill(0, 0, 1000);
    await edu.dmaFromDevice(buf, { length: 1000, offset: 2000 });
    expect(Buffer.from(buf.bytes.subarray(2000, 3000)).equals(Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff)))).toBe(true);
  });
});

needs('fb0', existsSync('/dev/fb0')).describe('the screen', () => {
  it('shows what Node draws into /dev/fb0, pixel for pixel', async () => {
    using fb = Framebuffer.open('/dev/fb0');
    if (fbconBound()) setConsoleMode('graphics');
    const card = testCard(fb.width, fb.height);
    fb.putImage(0, 0, card);
    fb.flush();
    expect(await screenDiff('/dev/fb0', (shot) => diffPixels(shot, card))).toBe(0);
  });
});
