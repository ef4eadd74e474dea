import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { parseSize } from '../../lib/commands/format.js';
import { describePin } from '../../lib/commands/guest.js';
import { PAGE_SIZE } from '../../lib/index.js';
import { tempFile } from '../helpers/tmp.js';

const cli = join(process.cwd(), 'dist', 'cli.js');
const devmap = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('devmap CLI', () => {
  it('--help lists the commands and map --help shows examples', () => {
    const r = devmap('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/devmap map <file>/);
    expect(r.stdout).toMatch(/devmap maps \[pid\]/);
    expect(r.stdout).toMatch(/devmap demo/);
    expect(devmap('map', '--help').stdout).toMatch(/Examples:[\s\S]*--length 0x100000/);
    expect(devmap('demo', '--help').stdout).toMatch(/--out [\s\S]*?\[default: "artifacts\/devmap-demo\.png"\]/);
  });

  it('no command or an unknown one: usage error, exit 2', () => {
    const none = devmap();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/Name a command/);
    const bad = devmap('mapp', 'x');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Did you mean map/);
  });

  it('map shows the VMA and a hexdump of what is in the file', () => {
    const path = tempFile(Buffer.concat([Buffer.from('devmap!'), Buffer.alloc(PAGE_SIZE)]));
    const r = devmap('map', path, '--dump', '16', '--read-only');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`mapped ${PAGE_SIZE + 7} bytes of ${path} at offset 0 (read-only, MAP_SHARED)`);
    expect(r.stdout).toMatch(new RegExp(`r--s 00000000 \\S+ \\d+ ${path}  \\[rd `));
    expect(r.stdout).toContain('64 65 76 6d 61 70 21 00');
    expect(r.stdout).toContain('|devmap!.........|');
  });

  it('map reports bad input as one line and exit 1', () => {
    const path = tempFile(PAGE_SIZE);
    const r = devmap('map', path, '--offset', '100');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`devmap: offset must be a multiple of the page size (${PAGE_SIZE}), got 100\n`);
    const s = devmap('map', path, '--offset', 'lots');
    expect(s.stderr).toBe('devmap: --offset must be a number like 4096, 0x1000 or 4K, got "lots"\n');
    const missing = devmap('map', path + '.missing');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^devmap: ENOENT: no such file or directory, open '.*\.missing'\n$/);
  });

  it('maps --json prints parseable VMAs of a process', () => {
    const r = devmap('maps', String(process.pid), '--json', '--filter', '[stack]');
    expect(r.status).toBe(0);
    const vmas = JSON.parse(r.stdout) as { path: string; start: string; perms: string }[];
    expect(vmas).toHaveLength(1);
    expect(vmas[0]).toMatchObject({ path: '[stack]', perms: 'rw-p' });
    expect(vmas[0]!.start).toMatch(/^0x[0-9a-f]+$/);
  });

  it('guest --help lists guest lock with an example', () => {
    const r = devmap('guest', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/devmap guest lock +Show the Debian kernel/);
    expect(r.stdout).toMatch(/Examples:[\s\S]*devmap guest lock --update/);
  });

  it.skipIf(spawnSync('sh', ['-c', 'command -v apt-cache']).status !== 0)('guest lock shows the pin and whether the archive has it, and writes nothing', () => {
    const lockFile = join(process.cwd(), 'qemu', 'guest.lock.json');
    const before = readFileSync(lockFile);
    const abi = (JSON.parse(before.toString()) as Record<string, { abi: string }>)['trixie/x86_64']!.abi;
    // apt-cache takes seconds per lookup on a busy machine.
    const r = spawnSync(process.execPath, [cli, 'guest', 'lock', '--kernel', 'trixie', '--arch', 'x86_64'], { encoding: 'utf8', timeout: 150_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^trixie/x86_64 +${abi.replace(/[.+]/g, '\\$&')} \\(\\d+ packages\\): (in the archive|GONE from the archive|cannot check the archive)`));
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(readFileSync(lockFile)).toEqual(before);
  }, 180_000);
});

it('guest lock says whether runs here keep a pin the archive dropped', () => {
  const pin = { abi: '6.1.0-50-amd64', packages: { 'linux-image-6.1.0-50-amd64': '6.1.176-1', 'busybox-static': '1:1.35.0-4' } };
  const gone = { target: 'bookworm/x86_64', pin, current: '6.1.0-57-amd64', gone: ['linux-image-6.1.0-50-amd64=6.1.176-1'] };
  expect(describePin({ ...gone, kept: true })).toBe('bookworm/x86_64  6.1.0-50-amd64 (2 packages): GONE from the archive (linux-image-6.1.0-50-amd64=6.1.176-1); cached here, so runs here keep using it');
  expect(describePin({ ...gone, kept: false })).toMatch(/GONE .*; runs here use the current kernel 6\.1\.0-57-amd64 until --update pins it$/);
  expect(describePin({ ...gone, gone: [], kept: true })).toBe('bookworm/x86_64  6.1.0-50-amd64 (2 packages): in the archive; the current kernel is 6.1.0-57-amd64 (--update pins it)');
});

describe('parseSize', () => {
  it('accepts decimal, hex and binary suffixes, refuses the rest', () => {
    expect(parseSize('4096', 'x')).toBe(4096n);
    expect(parseSize('0x1000', 'x')).toBe(4096n);
    expect(parseSize('4K', 'x')).toBe(4096n);
    expect(parseSize('16MiB', 'x')).toBe(16n << 20n);
    expect(parseSize('1g', 'x')).toBe(1n << 30n);
    expect(() => parseSize('-1', 'size')).toThrow(/size must be a number/);
    expect(() => parseSize('1.5M', 'size')).toThrow(RangeError);
  });
});

it('the package imports by its own name', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', "const d = await import('devmap'); console.log(typeof d.mapFile, typeof d.readMaps)"], {
    encoding: 'utf8',
  });
  expect(r.stdout).toBe('function function\n');
  expect(readFileSync('package.json', 'utf8')).toContain('"os"');
});
