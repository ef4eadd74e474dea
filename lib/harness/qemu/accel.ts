// KVM or TCG. /dev/kvm existing proves nothing (a paravirtual /dev/kvm can
// hang a stock kernel at 100% CPU), so KVM is used only after a short,
// bounded probe boot has run a command and come back. A failed probe costs
// seconds, so the verdict is cached, keyed by the host's boot id, the guest
// kernel's ABI, the guest architecture and /dev/kvm's device number.
import { accessSync, constants, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { cacheDir, sha256, type Log } from '../image/cache.js';
import type { GuestImage } from '../image/image.js';
import type { Accel } from './args.js';
import { hostDebArch } from '../image/foreign.js';
import { ARCHES, type Machine } from '../machines/machines.js';

/** Boots `m` under KVM running `true`, bounded by `timeoutMs` (the runner passes itself: no import cycle). */
export type KvmProbe = (m: Machine, timeoutMs: number) => Promise<{ ok: boolean; ms: number; why: string }>;

const PROBE_TIMEOUT_MS = 8000;

function kvmUsable(): string | undefined {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return undefined;
  } catch {
    return existsSync('/dev/kvm') ? '/dev/kvm is not accessible to this user' : 'no /dev/kvm';
  }
}

export async function pickAccel(image: GuestImage, m: Machine, log: Log, probe: KvmProbe): Promise<Accel> {
  const forced = process.env.DEVMAP_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') {
    log(`accelerator: ${forced.toUpperCase()} (DEVMAP_ACCEL)`);
    return forced;
  }
  // KVM runs only the host's own architecture.
  if (ARCHES[m.arch]?.debArch !== hostDebArch()) {
    log(`accelerator: TCG (${m.arch} guest on a ${hostDebArch()} host)`);
    return 'tcg';
  }
  const why = kvmUsable();
  if (why) {
    log(`accelerator: TCG (${why})`);
    return 'tcg';
  }
  const bootId = existsSync('/proc/sys/kernel/random/boot_id') ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : '';
  const key = sha256(bootId, image.kernel.abi, m.arch, String(statSync('/dev/kvm').rdev));
  const file = join(cacheDir(), 'accel.json');
  const cached = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { key: string; accel: Accel; why: string }) : undefined;
  if (cached?.key === key) {
    log(`accelerator: ${cached.accel.toUpperCase()} (${cached.why}; probed earlier this host boot)`);
    return cached.accel;
  }
  log(`probing KVM with a ${PROBE_TIMEOUT_MS / 1000} s test boot`);
  const r = await probe(m, PROBE_TIMEOUT_MS);
  const ok = r.ok;
  const verdict = ok ? `KVM probe booted in ${(r.ms / 1000).toFixed(1)} s` : `KVM probe failed: ${r.why.split('\n')[0]}`;
  writeFileSync(file, JSON.stringify({ key, accel: ok ? 'kvm' : 'tcg', why: verdict }) + '\n');
  log(`accelerator: ${ok ? 'KVM' : 'TCG'} (${verdict})`);
  return ok ? 'kvm' : 'tcg';
}
