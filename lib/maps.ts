// /proc/PID/maps and /proc/PID/smaps parsing.
import { readFileSync } from 'node:fs';

import { rangeError } from './errors.js';

/** One virtual memory area of a process. */
export interface Vma {
  start: bigint;
  end: bigint;
  /** e.g. 'rw-s' (s: shared, p: private). */
  perms: string;
  offset: bigint;
  /** 'major:minor' of the device holding the mapped file, in hex as the kernel prints it. */
  device: string;
  inode: number;
  /** The mapped file, '[heap]' and the like, or '' for anonymous memory. */
  path: string;
  /** smaps VmFlags, e.g. ['rd', 'wr', 'sh', 'mr', 'mw', 'me', 'ms', 'io', 'pf', 'de', 'dd']. Empty when smaps is unreadable. */
  vmFlags: string[];
  /** Other smaps fields in kB ('Rss', 'Pss', ...), when smaps was read. */
  fields: Record<string, number>;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/;

/** Parses the text of /proc/PID/maps or /proc/PID/smaps. */
export function parseMaps(text: string): Vma[] {
  const out: Vma[] = [];
  let cur: Vma | undefined;
  for (const line of text.split('\n')) {
    const m = HEADER.exec(line);
    if (m) {
      cur = {
        start: BigInt('0x' + m[1]),
        end: BigInt('0x' + m[2]),
        perms: m[3]!,
        offset: BigInt('0x' + m[4]),
        device: m[5]!,
        inode: Number(m[6]),
        path: m[7] ?? '',
        vmFlags: [],
        fields: {},
      };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (line.startsWith('VmFlags:')) {
      cur.vmFlags = line.slice(8).trim().split(/\s+/).filter(Boolean);
    } else {
      const f = /^(\w+):\s+(\d+)/.exec(line);
      if (f) cur.fields[f[1]!] = Number(f[2]);
    }
  }
  return out;
}

/**
 * The memory map of a process, from /proc/PID/smaps (with VmFlags) or, if
 * that is not readable, /proc/PID/maps.
 */
export function readMaps(pid: number | 'self' = 'self'): Vma[] {
  return readMapsWith(pid);
}

const readText = (path: string): string => readFileSync(path, 'utf8');

/** readMaps() reading through `read` (internal: tests pass a reader to reach the fallback). */
export function readMapsWith(pid: number | 'self', read: (path: string) => string = readText): Vma[] {
  if (pid !== 'self' && !(Number.isInteger(pid) && pid > 0)) {
    throw rangeError(`pid must be a positive integer or 'self', got ${String(pid)}`);
  }
  try {
    return parseMaps(read(`/proc/${pid}/smaps`));
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') throw err;
    return parseMaps(read(`/proc/${pid}/maps`));
  }
}

/** The VMA that contains `address`, if any. */
export function findVma(vmas: Vma[], address: bigint): Vma | undefined {
  return vmas.find((v) => v.start <= address && address < v.end);
}
