// The edu API's pure parts on the host: argument checks, the transfer record,
// and the errors a missing device, another driver and a faked one give.
import { spawnSync } from 'node:child_process';
import { closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { EDU_BUF_MAX, EDU_IOC, XFER_SIZE, encodeTransfer } from '../../lib/edu/abi.js';
import { checkDmaSize, checkTransfer } from '../../lib/edu/dma.js';
import { Edu, openEdu } from '../../lib/edu/device.js';
import { eduSys } from '../../lib/edu/sys.js';
import { tempDir } from '../helpers/tmp.js';

describe('edu transfer checks', () => {
  it('accepts ranges up to the last usable device byte (4094) and fills defaults', () => {
    expect(checkTransfer({ length: 4095 }, 8192)).toEqual({ offset: 0, deviceOffset: 0, length: 4095, timeoutMs: 0 });
    expect(checkTransfer({ offset: 4095, deviceOffset: 4094, length: 1, timeoutMs: 50 }, 4096)).toEqual({ offset: 4095, deviceOffset: 4094, length: 1, timeoutMs: 50 });
  });

  it('refuses a range touching device byte 4095 with the option and range named', () => {
    expect(() => checkTransfer({ deviceOffset: 4094, length: 2 }, 4096)).toThrow(/^length must be an integer in \[1, 1\] for offset 0 and deviceOffset 4094 \(the device window ends at 4095\), got 2$/);
    expect(() => checkTransfer({ deviceOffset: 4095, length: 1 }, 4096)).toThrow(/deviceOffset must be an integer in \[0, 4094\], got 4095/);
    expect(() => checkTransfer({ length: 4096 }, 8192)).toThrow(RangeError);
  });

  it('refuses ranges past the buffer end, bad types and bad timeouts', () => {
    expect(() => checkTransfer({ offset: 4000, length: 97 }, 4096)).toThrow(/\[1, 96\].*the buffer has 4096 bytes/);
    expect(() => checkTransfer({ offset: 4096, length: 1 }, 4096)).toThrow(/offset must be an integer in \[0, 4095\]/);
    expect(() => checkTransfer({ length: 0 }, 4096)).toThrow(/length must be an integer in \[1, 4095\]/);
    expect(() => checkTransfer({ length: 1.5 }, 4096)).toThrow(RangeError);
    expect(() => checkTransfer({}, 4096)).toThrow(TypeError);
    expect(() => checkTransfer({ length: '8' }, 4096)).toThrow(/length must be a number, got string/);
    expect(() => checkTransfer(null, 4096)).toThrow(TypeError);
    expect(() => checkTransfer({ length: 1, timeoutMs: 0 }, 4096)).toThrow(/timeoutMs must be an integer in \[1, 60000\]/);
    for (const f of [() => checkTransfer({ length: -1 }, 4096), () => checkDmaSize(0)]) {
      expect(f).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    }
  });

  it('checks buffer sizes', () => {
    expect(checkDmaSize(1)).toBe(1);
    expect(checkDmaSize(EDU_BUF_MAX)).toBe(EDU_BUF_MAX);
    expect(() => checkDmaSize(EDU_BUF_MAX + 1)).toThrow(/size must be an integer in \[1, 4194304\]/);
    expect(() => checkDmaSize(4096n as unknown as number)).toThrow(TypeError);
  });

  it('encodes struct edu_xfer field by field', () => {
    const b = encodeTransfer(7, 1, { offset: 0x1_0000_0001, deviceOffset: 4094, length: 1, timeoutMs: 250 });
    const v = new DataView(b.buffer);
    expect(b.length).toBe(XFER_SIZE);
    expect([v.getUint32(0, true), v.getUint32(4, true), v.getBigUint64(8, true), v.getUint32(16, true), v.getUint32(20, true), v.getUint32(24, true)]).toEqual([7, 1, 0x100000001n, 1, 4094, 250]);
  });
});

describe('Edu.open without the device', () => {
  it('says what to do, as a node:fs system error', () => {
    let err: NodeJS.ErrnoException | undefined;
    try {
      Edu.open('/dev/edu-devmap-missing');
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'open', path: '/dev/edu-devmap-missing' });
    expect(err?.message).toMatch(/no edu device at \/dev\/edu-devmap-missing: load native\/kmod\/edu \(insmod devmap_edu.ko\) and start QEMU with -device edu/);
  });

  it('allocDma: a failing clean-up does not hide the mapping error', () => {
    // The driver's ioctls faked on a regular file: ALLOC succeeds, mapping the
    // empty file fails, and the FREE that undoes the allocation fails too.
    const path = join(tempDir(), 'edu');
    writeFileSync(path, '');
    const calls: number[] = [];
    const edu = openEdu(path, {
      ...eduSys,
      ioctl: (_fd, request, arg) => {
        calls.push(request);
        if (request === EDU_IOC.ALLOC && arg instanceof Uint8Array) new DataView(arg.buffer).setUint32(24, 7, true); // buffer 7 at mmap offset 0
        if (request === EDU_IOC.FREE) throw Object.assign(new Error('EIO: i/o error, ioctl'), { code: 'EIO', errno: -5, syscall: 'ioctl' });
        return 0;
      },
    });
    expect(() => edu.allocDma(4096)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/goes past the end/) }));
    expect(calls.slice(-2)).toEqual([EDU_IOC.ALLOC, EDU_IOC.FREE]);
    edu.close();
  });

  it('a transfer: its write error carries the node as path; close() during it waits for the write', async () => {
    const path = join(tempDir(), 'edu');
    writeFileSync(path, new Uint8Array(4096));
    let fail!: (err: Error) => void;
    const closed: number[] = [];
    const edu = openEdu(path, {
      ...eduSys,
      ioctl: (_fd, request, arg) => {
        if (request === EDU_IOC.ALLOC && arg instanceof Uint8Array) new DataView(arg.buffer).setUint32(24, 7, true); // buffer 7 at mmap offset 0
        return 0;
      },
      write: () => new Promise((_, reject) => (fail = reject)),
      close: (fd) => {
        closed.push(fd);
        closeSync(fd);
      },
    });
    const buf = edu.allocDma(4096);
    const transfer = edu.dmaToDevice(buf, { length: 16 });
    edu.close();
    expect(closed).toEqual([]); // the queued write still uses the fd
    fail(Object.assign(new Error('ETIMEDOUT: connection timed out, write'), { code: 'ETIMEDOUT', errno: -110, syscall: 'write' }));
    await expect(transfer).rejects.toMatchObject({ code: 'ETIMEDOUT', syscall: 'write', path, message: `ETIMEDOUT: connection timed out, write '${path}'` });
    expect(closed).toHaveLength(1);
    buf.free();
  });

  it('refuses a file that is not the driver (ENOTTY) and a bad path', () => {
    expect(() => Edu.open('/dev/null')).toThrow(expect.objectContaining({ code: 'ENOTTY', path: '/dev/null' }));
    expect(() => Edu.open('')).toThrow(TypeError);
  });

  it('CLI: edu --help lists the commands with examples; a missing device exits 1 with the hint', () => {
    const cli = join(process.cwd(), 'dist', 'cli.js');
    const help = spawnSync(process.execPath, [cli, 'edu', '--help'], { encoding: 'utf8' });
    expect(help.stdout).toMatch(/devmap edu info[\s\S]*devmap edu factorial <n>[\s\S]*devmap edu dma-test[\s\S]*Examples:/);
    const r = spawnSync(process.execPath, [cli, 'edu', 'info', '--device', '/dev/edu-devmap-missing'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/insmod devmap_edu.ko/);
  });
});
