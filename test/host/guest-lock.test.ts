// qemu/guest.lock.json is read by runs and written only by
// `devmap guest lock --update`. Each test works on a copy of the real lock
// file with apt replaced, so the archive can "drop" a kernel on demand.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { choosePackages, debName, pinStatus, updateLock, type AptLookup, type GuestPackages, type PackageSys } from '../../lib/harness/image/debian.js';
import { lockPath, type LockFile } from '../../lib/harness/image/lock.js';
import { ARCHES } from '../../lib/harness/machines/machines.js';
import { SUITES } from '../../lib/harness/machines/suites.js';
import { tempDir } from '../helpers/tmp.js';

const x86 = { suite: SUITES.bookworm, arch: ARCHES.x86_64! };
const KEY = 'bookworm/x86_64';
const NEW: GuestPackages = {
  abi: '6.1.0-99-amd64',
  packages: { 'linux-image-6.1.0-99-amd64': '6.1.300-1', 'linux-headers-6.1.0-99-amd64': '6.1.300-1', 'busybox-static': '1:1.35.0-4' },
};

/** apt as a test wants it; a call the test did not provide for fails it. */
function fakeApt(o: Partial<AptLookup> = {}): AptLookup & { calls: string[] } {
  const calls: string[] = [];
  const given = <F extends (...args: never[]) => unknown>(name: string, fn: F | undefined, label: (...args: Parameters<F>) => string) =>
    ((...args: Parameters<F>) => {
      calls.push(label(...args));
      if (!fn) throw new Error(`unexpected apt call: ${name}`);
      return fn(...args);
    }) as F;
  return {
    calls,
    has: given('has', o.has, (_t, n, v) => `has ${n}=${v}`),
    currentAbi: given('currentAbi', o.currentAbi, () => 'currentAbi'),
    current: given('current', o.current, () => 'current'),
    update: given('update', o.update ?? (() => false), () => 'update'),
  };
}

/** A copy of the real lock file (or `lock`), an empty .deb cache, and `apt`. */
function sandbox(apt: AptLookup, lock?: LockFile): PackageSys & { pin: GuestPackages; before: Buffer } {
  const dir = tempDir();
  const lockFile = join(dir, 'guest.lock.json');
  if (lock) writeFileSync(lockFile, JSON.stringify(lock, null, 2) + '\n');
  else copyFileSync(lockPath(), lockFile);
  const debDir = join(dir, 'debs');
  mkdirSync(debDir);
  const before = readFileSync(lockFile);
  return { apt, lockFile, debDir, before, pin: (JSON.parse(before.toString()) as LockFile)[KEY]! };
}

const cacheAll = (sys: PackageSys, pin: GuestPackages): void => {
  for (const [n, v] of Object.entries(pin.packages)) writeFileSync(join(sys.debDir, debName(n, v)), '');
};

describe('a run never writes the lock file', () => {
  it('a pin gone from the archive and not cached: the current kernel for this run, one line saying so, the lock byte-identical', () => {
    const apt = fakeApt({ has: () => false, current: () => NEW, update: () => true });
    const sys = sandbox(apt);
    const log: string[] = [];
    expect(choosePackages(x86, (l) => log.push(l), sys)).toEqual(NEW);
    expect(readFileSync(sys.lockFile)).toEqual(sys.before);
    expect(log).toEqual([expect.stringMatching(/^locked bookworm\/x86_64 kernel \S+ is gone from the archive \(.*\); using 6\.1\.0-99-amd64 for this run; run "devmap guest lock --update" to pin it$/)]);
    expect(log[0]).toContain(`locked bookworm/x86_64 kernel ${sys.pin.abi} is gone`);
    // The lists were refreshed once before giving up on the pin.
    expect(apt.calls.filter((c) => c === 'update')).toHaveLength(1);
  });

  it('the cached .debs of the pin keep serving runs after the archive dropped them, without asking apt', () => {
    const apt = fakeApt();
    const sys = sandbox(apt);
    cacheAll(sys, sys.pin);
    const log: string[] = [];
    expect(choosePackages(x86, (l) => log.push(l), sys)).toEqual(sys.pin);
    expect(apt.calls).toEqual([]);
    expect(log).toEqual([]);
    expect(readFileSync(sys.lockFile)).toEqual(sys.before);
  });

  it('a cold cache (no .debs, no package lists yet): the lists are fetched before apt is asked about the pin', () => {
    let lists = false;
    // Like SuiteApt: asking before any update throws.
    const has = (): boolean => {
      if (!lists) throw new Error('no package lists yet; call update() first');
      return true;
    };
    const apt = fakeApt({ has, update: () => (lists = true) });
    const sys = sandbox(apt);
    expect(choosePackages(x86, () => {}, sys)).toEqual(sys.pin);
    expect(apt.calls[0]).toBe('update');
    expect(apt.calls.filter((c) => c === 'update')).toHaveLength(1);
  });

  it('a pin partly cached, the rest still in the archive, is used as pinned', () => {
    const apt = fakeApt({ has: () => true });
    const sys = sandbox(apt);
    const [first] = Object.entries(sys.pin.packages);
    writeFileSync(join(sys.debDir, debName(first![0], first![1])), '');
    expect(choosePackages(x86, () => {}, sys)).toEqual(sys.pin);
    expect(apt.calls).not.toContain(`has ${first![0]}=${first![1]}`);
    expect(apt.calls).not.toContain('current');
  });

  it('no entry for the suite and arch: the current kernel for this run, said once, nothing written', () => {
    const sys = sandbox(fakeApt({ current: () => NEW }), readLockCopy(['bookworm/armhf']));
    const log: string[] = [];
    expect(choosePackages(x86, (l) => log.push(l), sys)).toEqual(NEW);
    expect(log).toEqual(['the lock file pins no bookworm/x86_64 kernel; using the current one, 6.1.0-99-amd64, for this run; run "devmap guest lock --update" to pin it']);
    expect(readFileSync(sys.lockFile)).toEqual(sys.before);
  });

  it('no lock file at all: nothing is created', () => {
    const sys = sandbox(fakeApt({ current: () => NEW }));
    const missing = { ...sys, lockFile: join(sys.debDir, 'none.json') };
    expect(choosePackages(x86, () => {}, missing)).toEqual(NEW);
    expect(existsSync(missing.lockFile)).toBe(false);
  });
});

describe('devmap guest lock', () => {
  it('--update pins the current kernel for the arch and keeps the other pins as they were', () => {
    const sys = sandbox(fakeApt({ current: () => NEW }));
    const old = JSON.parse(sys.before.toString()) as LockFile;
    expect(updateLock([x86], () => {}, sys)).toEqual([{ target: KEY, from: sys.pin.abi, to: NEW.abi, changed: true }]);
    const now = JSON.parse(readFileSync(sys.lockFile, 'utf8')) as LockFile;
    expect(Object.keys(now)).toEqual(Object.keys(old));
    expect(now).toEqual({ ...old, [KEY]: NEW });
  });

  it('--update with nothing new does not touch the file', () => {
    const sys = sandbox(fakeApt());
    sys.apt = fakeApt({ current: () => sys.pin });
    utimesSync(sys.lockFile, 0, 0);
    expect(updateLock([x86], () => {}, sys)).toEqual([{ target: KEY, from: sys.pin.abi, to: sys.pin.abi, changed: false }]);
    expect(statSync(sys.lockFile).mtimeMs).toBe(0);
  });

  it('the status says what is gone, whether the cache still serves it, and writes nothing', () => {
    const sys = sandbox(fakeApt({ currentAbi: () => NEW.abi, has: (_t, n) => !n.startsWith('linux-image-') }));
    const image = Object.entries(sys.pin.packages).find(([n]) => n.startsWith('linux-image-'))!;
    expect(pinStatus(x86, sys)).toEqual({ target: KEY, pin: sys.pin, current: NEW.abi, gone: [`${image[0]}=${image[1]}`], kept: false });
    writeFileSync(join(sys.debDir, debName(image[0], image[1])), '');
    expect(pinStatus(x86, sys).kept).toBe(true);
    expect(readFileSync(sys.lockFile)).toEqual(sys.before);
  });

  it('lists without the arch kernel prove nothing gone', () => {
    const sys = sandbox(fakeApt({ currentAbi: () => undefined }));
    expect(pinStatus(x86, sys)).toEqual({ target: KEY, pin: sys.pin, current: undefined, gone: [], kept: false });
  });
});

function readLockCopy(keys: string[]): LockFile {
  const all = JSON.parse(readFileSync(lockPath(), 'utf8')) as LockFile;
  return Object.fromEntries(keys.map((k) => [k, all[k]!]));
}
