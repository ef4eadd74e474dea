// Every bad input gets a clear error before anything reaches mmap, and
// nothing is left mapped or corrupted; and no public signature takes a
// system-call table (the test hooks are internal).
import { chmodSync, closeSync, cpSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

import { mapFd, mapFile, PAGE_SIZE } from '../../lib/index.js';
import { countMaps, tempDir, tempFile } from '../helpers/tmp.js';

const file = tempFile(4 * PAGE_SIZE);
const range = expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' });

describe('offset and length', () => {
  it.each([
    ['negative', -PAGE_SIZE, /offset must be >= 0/],
    ['NaN', NaN, /offset must be a finite integer, got NaN/],
    ['Infinity', Infinity, /finite integer/],
    ['fractional', 4096.5, /offset must be an integer, got 4096.5/],
    ['above 2^53', 2 ** 53 + 2, /at most 2\^53 - 1 as a number/],
    ['negative bigint', -1n, /offset must be >= 0/],
    ['above 2^63', 1n << 63n, /<= 2\^63 - 1/],
    ['not page-aligned', 100, new RegExp(`multiple of the page size \\(${PAGE_SIZE}\\), got 100`)],
  ])('refuses a %s offset', (_name, offset, message) => {
    expect(() => mapFile(file, { offset })).toThrow(RangeError);
    expect(() => mapFile(file, { offset })).toThrow(message);
    expect(() => mapFile(file, { offset })).toThrow(range);
  });

  it.each([
    ['zero', 0, /length must be >= 1/],
    ['negative', -1, /length must be >= 1/],
    ['NaN', NaN, /length must be a finite integer/],
    ['fractional', 1.5, /length must be an integer/],
    ['above 2^53', 2 ** 60, /at most 2\^53 - 1/],
  ])('refuses a %s length', (_name, length, message) => {
    expect(() => mapFile(file, { length })).toThrow(message);
  });

  it('refuses non-numeric offsets and lengths with a TypeError', () => {
    expect(() => mapFile(file, { offset: '0' as unknown as number })).toThrow(TypeError);
    expect(() => mapFile(file, { length: null as unknown as number })).toThrow(TypeError);
    expect(() => mapFile(file, { write: 'yes' as unknown as boolean })).toThrow(/write must be a boolean/);
    expect(() => mapFile('' as string)).toThrow(TypeError);
    expect(() => mapFile(file, null as unknown as object)).toThrow(/options must be an object/);
  });

  it('refuses a range past the end of a regular file up front (no SIGBUS later)', () => {
    expect(() => mapFile(file, { length: 4 * PAGE_SIZE + 1 })).toThrow(/goes past the end of .* \(16384 bytes\)/);
    expect(() => mapFile(file, { offset: 4 * PAGE_SIZE })).toThrow(/at or past the end/);
    expect(() => mapFile(file, { offset: 3 * PAGE_SIZE, length: 2 * PAGE_SIZE })).toThrow(range);
    expect(() => mapFile(tempFile(0))).toThrow(/at or past the end .* \(0 bytes\)/);
    expect(countMaps(file, readFileSync('/proc/self/maps', 'utf8'))).toBe(0);
  });

  it('requires a length for a character device', () => {
    expect(() => mapFile('/dev/zero')).toThrow(/length is required when mapping the device \/dev\/zero/);
  });
});

describe('the file itself', () => {
  it('missing path: ENOENT system error with path', () => {
    const p = join(tempDir(), 'nope');
    expect(() => mapFile(p)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open', path: p, errno: -2 }));
    expect(() => mapFile(p)).toThrow(`ENOENT: no such file or directory, open '${p}'`);
  });

  it('a path with a null byte is refused, not cut short', () => {
    expect(() => mapFile(`${file}\0.tail`)).toThrow(/without null bytes/);
  });

  it('leaves no descriptor open, whether it maps or refuses', () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    mapFile(file).unmap();
    expect(() => mapFile(file, { offset: 8 * PAGE_SIZE })).toThrow(range);
    expect(() => mapFile('/dev/zero')).toThrow(TypeError);
    expect(() => mapFile(tempDir(), { write: false, length: 4096 })).toThrow(/EISDIR/);
    expect(fds()).toBe(before);
  });

  it('a directory: EISDIR, read-write or read-only', () => {
    const d = tempDir();
    expect(() => mapFile(d)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(() => mapFile(d, { write: false, length: 4096 })).toThrow(
      expect.objectContaining({ code: 'EISDIR', syscall: 'mmap', path: d, errno: -21 })
    );
  });

  it('a FIFO: ENODEV', () => {
    const p = join(tempDir(), 'fifo');
    spawnSync('mkfifo', [p]);
    const fd = openSync(p, 'r+');
    try {
      expect(() => mapFd(fd, p, { length: 4096 })).toThrow(expect.objectContaining({ code: 'ENODEV', path: p }));
    } finally {
      closeSync(fd);
    }
  });

  it('write: true on a descriptor opened read-only: EACCES from mmap, with the path', () => {
    const fd = openSync(file, 'r');
    try {
      expect(() => mapFd(fd, file)).toThrow(expect.objectContaining({ code: 'EACCES', syscall: 'mmap', path: file, errno: -13 }));
      expect(() => mapFd(fd, file)).toThrow(/^EACCES: permission denied, mmap '/);
      mapFd(fd, file, { write: false }).unmap();
    } finally {
      closeSync(fd);
    }
  });

  it.runIf(process.getuid?.() === 0)('write: true on a read-only file for an unprivileged user: EACCES', () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const p = join(dir, 'ro.bin');
    spawnSync('sh', ['-c', `head -c 4096 /dev/zero > ${p} && chmod 444 ${p}`]);
    // The user must reach the library: a copy beside the file, since the
    // checkout may live where only root can look (root's own 0700 home).
    cpSync(join(process.cwd(), 'dist'), join(dir, 'dist'), { recursive: true });
    cpSync(join(process.cwd(), 'build', 'Release', 'devmap.node'), join(dir, 'build', 'Release', 'devmap.node'));
    // ... with the loader's one runtime dependency, which finds the addon.
    cpSync(join(process.cwd(), 'node_modules', 'node-gyp-build'), join(dir, 'node_modules', 'node-gyp-build'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const code = `import('${join(dir, 'dist', 'map.js')}').then((m) => {
      try { m.mapFile('${p}'); console.log('mapped'); } catch (e) { console.log(e.code, e.syscall); }
      const r = m.mapFile('${p}', { write: false }); console.log('ro', r.length); r.unmap();
    })`;
    const r = spawnSync(process.execPath, ['-e', code], { uid: 65534, gid: 65534, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('EACCES open\nro 4096\n');
  });
});

describe('the public API takes no test hooks', () => {
  it('no exported function or method has a system-call parameter, and no hook is exported', () => {
    const entry = join(process.cwd(), 'lib', 'index.ts');
    const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
    const checker = program.getTypeChecker();
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)!)!);
    const decls = exports.flatMap((e) => checker.getAliasedSymbol(e).declarations ?? []);
    const fns = decls.flatMap((d): (ts.MethodDeclaration | ts.FunctionDeclaration)[] => (ts.isClassDeclaration(d) ? d.members.filter(ts.isMethodDeclaration) : ts.isFunctionDeclaration(d) ? [d] : []));
    const hooks = fns.flatMap((f) =>
      f.parameters.filter((p) => /^(sys|deps|io|read|stat|fstat)$/.test(p.name.getText()) || /Sys\b|Sysfs|Deps|Stats/.test(p.type?.getText() ?? '')).map((p) => `${f.name!.getText()}(${p.name.getText()})`)
    );
    expect(hooks).toEqual([]);
    expect(exports.map((e) => e.name).filter((n) => /Sys$|Sysfs|Deps$/i.test(n))).toEqual([]);
    expect(fns.length).toBeGreaterThan(20); // the walk sees the real API
  });
});
