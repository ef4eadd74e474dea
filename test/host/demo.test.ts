// The README's first command, end to end: one guest boot.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

import { readPng } from '../../lib/fb/png.js';
import { tempDir } from '../helpers/tmp.js';

it('devmap demo draws in the guest through KMS, exchanges messages over ivshmem, runs edu DMA, and saves a matching screenshot under artifacts/', () => {
  // Run from a fresh folder, the way a user runs it in a project of their own.
  const cwd = tempDir();
  const out = join(cwd, 'artifacts', 'devmap-demo.png');
  const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli.js'), 'demo', '--message', 'ping from the test'], {
    cwd,
    encoding: 'utf8',
    timeout: 600_000,
  });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^guest x86_64 booted under (TCG|KVM)/);
  // The guest has bochs-drm: the picture goes through KMS, and the demo says so.
  expect(r.stdout).toMatch(/display {6}KMS: a dumb buffer on \/dev\/dri\/card0 \(bochs-drm\) 1280x800 XRGB8888, pitch 5120/);
  expect(r.stdout).toMatch(/mapped rw-s \/dev\/dri\/card0 \[/);
  const ivFlags = /mapped rw-s \/dev\/ivshmem0 \[([^\]]*)\]/.exec(r.stdout)?.[1]?.split(' ');
  expect(ivFlags).toEqual(expect.arrayContaining(['io', 'pf', 'de', 'dd']));
  expect(r.stdout).toContain('host -> guest: "ping from the test"');
  expect(r.stdout).toMatch(/guest -> host: "guest \S+ drew "ping from the test""/);
  expect(r.stdout).toMatch(/edu DMA {6}4000 bytes to the device and back: equal/);
  expect(r.stdout).toContain(`screen       ${out} -- pixel-identical to what the guest drew`);
  expect(existsSync(out)).toBe(true);
  expect(readPng(out)).toMatchObject({ width: 1280, height: 800 });
  // Nothing else in the folder it ran from.
  expect(readdirSync(cwd, { recursive: true }).sort()).toEqual(['artifacts', join('artifacts', 'devmap-demo.png')]);
  // No demo shm file left behind.
  expect(spawnSync('sh', ['-c', 'ls /dev/shm | grep -c devmap-demo- || true'], { encoding: 'utf8' }).stdout.trim()).toBe('0');
}, 600_000);
