// What a vitest JSON report says, for scripts/test.mjs: the counts, the
// failures, and every skip with its reason (the meta that
// test/guest/helpers/devices.ts gives a skipped test), so that the summary
// says per machine what did not run and why.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

import type { TestFailure } from './session.js';

export interface Skip {
  /** The spec file, from the project root. */
  file: string;
  test: string;
  reason?: string;
  /** The device the spec needs, when it skipped for want of it. */
  device?: string;
}

export interface ReportCounts {
  passed: number;
  failed: number;
  skipped: number;
  failures: TestFailure[];
  skips: Skip[];
}

/** The part of vitest's JSON report read here. */
interface JsonReport {
  testResults: {
    name: string;
    message?: string;
    assertionResults: {
      fullName: string;
      status: string;
      failureMessages: string[];
      meta?: { devmapSkip?: { reason?: string; device?: string } };
    }[];
  }[];
}

/** Counts, failures and skips of the vitest JSON report at `path`; spec paths relative to `root`. */
export function readReport(path: string, root: string): ReportCounts {
  const r: ReportCounts = { passed: 0, failed: 0, skipped: 0, failures: [], skips: [] };
  for (const f of (JSON.parse(readFileSync(path, 'utf8')) as JsonReport).testResults) {
    const file = relative(root, f.name);
    if (f.assertionResults.length === 0 && f.message) {
      r.failed++;
      r.failures.push({ name: file, message: f.message });
    }
    for (const t of f.assertionResults) {
      if (t.status === 'passed') r.passed++;
      else if (t.status === 'failed') {
        r.failed++;
        r.failures.push({ name: `${file} > ${t.fullName}`, message: t.failureMessages.join('\n') });
      } else {
        r.skipped++;
        const why = t.meta?.devmapSkip;
        r.skips.push({ file, test: t.fullName, ...(why?.reason ? { reason: why.reason } : {}), ...(why?.device ? { device: why.device } : {}) });
      }
    }
  }
  return r;
}

/** One line per spec file and reason: "3 in test/guest/clcd.test.ts: machine x86_64 does not list clcd: ...". */
export function skipLines(skips: Skip[]): string[] {
  const groups = new Map<string, number>();
  for (const s of skips) {
    const key = `${s.file}: ${s.reason ?? `no reason given (${s.test})`}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([key, n]) => `${n} in ${key}`);
}

/**
 * Skips for want of a device that the machine lists. In the guest such a
 * spec fails instead (needs()); one that skips anyway had a wrong device
 * list or went around needs(), and CI counts it as a failure.
 */
export function listedSkips(skips: Skip[], devices: readonly string[]): TestFailure[] {
  return skips
    .filter((s) => s.device !== undefined && devices.includes(s.device))
    .map((s) => ({ name: `${s.file} > ${s.test}`, message: `skipped, but the machine lists ${s.device}: ${s.reason ?? 'no reason given'}` }));
}
