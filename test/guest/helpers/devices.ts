// One rule for a spec whose device is absent: it fails on a machine that
// lists the device (DEVMAP_DEVICES, from machine.devices in
// lib/harness/machines/machines.ts) and skips, saying why, where the machine
// does not. Every skip keeps its reason in the test's meta (devmapSkip),
// which scripts/test.mjs reports per machine.
import { describe, it, type TestOptions } from 'vitest';

import { GUEST_DEVICES, type GuestDevice } from '../../../lib/harness/machines/devices.js';

declare module 'vitest' {
  interface TaskMeta {
    /** Why the test was skipped, and the device it needed (lib/harness/session/report.ts reads it). */
    devmapSkip?: { reason: string; device?: string };
  }
}

export type Verdict = { run: true } | { skip: string } | { fail: string };

/** Set while the tests of a suite that needs() skips are being collected: their reason is the suite's. */
let skippedSuite = false;

/** The devices this guest's machine lists; undefined outside a harness guest. */
export function listedDevices(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  return env.DEVMAP_DEVICES === undefined ? undefined : env.DEVMAP_DEVICES.split(',').filter(Boolean);
}

/** What a spec that needs `device` does in this guest: run, skip or fail, and why. */
export function verdict(device: GuestDevice, present: boolean, env: NodeJS.ProcessEnv = process.env): Verdict {
  if (present) return { run: true };
  const machine = env.DEVMAP_MACHINE ?? '(none)';
  const listed = listedDevices(env);
  const what = GUEST_DEVICES[device];
  if (!listed) return { skip: `needs ${device} (not a devmap harness guest: no DEVMAP_DEVICES): ${what}` };
  if (!listed.includes(device)) return { skip: `machine ${machine} does not list ${device}: ${what}` };
  return { fail: `machine ${machine} lists ${device}, but it is missing: ${what}` };
}

/**
 * describe() for the specs that need `device`, present or not (the spec
 * looks): as is when present; else skipped with the reason, or, on a
 * machine that lists the device, a single test that fails saying what is
 * missing.
 */
export function needs(device: GuestDevice, present: boolean): { describe: (title: string, fn: () => void) => void } {
  const v = verdict(device, present);
  return {
    describe(title, fn) {
      if ('run' in v) describe(title, fn);
      else if ('skip' in v) {
        describe(title, { skip: true, meta: { devmapSkip: { reason: v.skip, device } } }, () => {
          skippedSuite = true;
          try {
            fn();
          } finally {
            skippedSuite = false;
          }
        });
      }
      else {
        describe(title, () => {
          it(`has its ${device}`, () => {
            throw new Error(v.fail);
          });
        });
      }
    },
  };
}

/** Test options that skip the test when `cond` holds, keeping `reason` for the report (in a suite needs() skips, the suite's). */
export function skipIf(cond: boolean, reason: string): TestOptions {
  return cond && !skippedSuite ? { skip: true, meta: { devmapSkip: { reason } } } : {};
}
