// QEMU options that differ between the releases devmap meets: Debian 12's
// QEMU 7.2, Debian 13's 10.0, sid's 11.x. QEMU 10 refused to start
// vexpress-a9 (a board with sound) on a Debian 13 host: "no default audio
// driver available".
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';

import { MACHINES } from '../../lib/harness/machines/machines.js';
import { parseQemuVersion, qemuArgs, qemuBinary, qemuVersion, type QemuVersion } from '../../lib/harness/qemu/args.js';

const args = (qemu: QemuVersion | undefined): string[] =>
  qemuArgs(MACHINES['armhf-vexpress']!, { accel: 'tcg', kernel: 'k', initrd: 'i', console: 'pipe', ...(qemu ? { qemuVersion: qemu } : {}) });
const audio = (a: string[]): string[] => a.flatMap((x, i) => (a[i - 1] === '-audio' ? [x] : []));

it('reads the version QEMU prints', () => {
  expect(parseQemuVersion('QEMU emulator version 10.0.13 (Debian 1:10.0.13+ds-0+deb13u1)\nCopyright (c) 2003-2025')).toEqual([10, 0]);
  expect(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)')).toEqual([7, 2]);
  expect(parseQemuVersion('')).toBeUndefined();
});

it('silences the audio of QEMU 8.2 on, and leaves 7.2 (which rejects -audio none) and an unknown version alone', () => {
  expect(audio(args([10, 0]))).toEqual(['none']);
  expect(audio(args([8, 2]))).toEqual(['none']);
  expect(audio(args([8, 1]))).toEqual([]);
  expect(audio(args([7, 2]))).toEqual([]);
  expect(audio(args(undefined))).toEqual([]);
});

const vexpress = MACHINES['armhf-vexpress']!;
const hostQemu = qemuVersion(qemuBinary(vexpress));

it.skipIf(!hostQemu)(`this host's QEMU starts vexpress-a9 with the options it gets${hostQemu ? '' : ` (skipped: no ${qemuBinary(vexpress)})`}`, () => {
  const extra = audio(args(hostQemu)).flatMap((a) => ['-audio', a]);
  // -S: stopped before the first instruction, still running when the timeout ends it; a refusal exits at once.
  const r = spawnSync(qemuBinary(vexpress), ['-M', vexpress.machine, ...extra, '-nodefaults', '-display', 'none', '-monitor', 'none', '-serial', 'none', '-S'], { encoding: 'utf8', timeout: 3000 });
  expect(r.error, `exit ${r.status}: ${r.stderr}`).toMatchObject({ code: 'ETIMEDOUT' });
});
