// PCI devices as sysfs describes them (/sys/bus/pci/devices/BDF/...).
import { basename } from 'node:path';

/** The sysfs reads PCI listing makes (ivshmemSys has the real ones; tests pass their own). */
export interface SysfsReader {
  readdir(path: string): string[];
  readFile(path: string): string;
  /** Target of a symlink, or undefined when there is none. */
  readlink(path: string): string | undefined;
  exists(path: string): boolean;
}

export const PCI_DEVICES = '/sys/bus/pci/devices';

/** One BAR or ROM line of a device's `resource` file. */
export interface PciResource {
  start: bigint;
  end: bigint;
  flags: bigint;
  /** end - start + 1, or 0 for an unused slot. */
  size: bigint;
}

export interface PciDevice {
  /** Domain:bus:device.function, e.g. '0000:00:04.0'. */
  address: string;
  vendor: number;
  device: number;
  /** Name of the bound driver, or null when none is bound. */
  driver: string | null;
  /** BAR0..BAR5, ROM, and bridge windows, as sysfs lists them. */
  resources: PciResource[];
  /** sysfs folder of the device. */
  sysfsPath: string;
}

/** Parses a `resource` file: one '0xSTART 0xEND 0xFLAGS' line per slot. */
export function parseResources(text: string): PciResource[] {
  const out: PciResource[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s+(0x[0-9a-fA-F]+)\s*$/.exec(line);
    if (!m) continue;
    const start = BigInt(m[1]!);
    const end = BigInt(m[2]!);
    out.push({ start, end, flags: BigInt(m[3]!), size: start === 0n && end === 0n ? 0n : end - start + 1n });
  }
  return out;
}

function readHex(sys: SysfsReader, path: string): number {
  const v = Number.parseInt(sys.readFile(path).trim(), 16);
  if (Number.isNaN(v)) throw new Error(`unexpected contents of ${path}`);
  return v;
}

/** Reads one device's sysfs folder. */
export function readPciDevice(address: string, sys: SysfsReader, root = PCI_DEVICES): PciDevice {
  const dir = `${root}/${address}`;
  const link = sys.readlink(`${dir}/driver`);
  return {
    address,
    vendor: readHex(sys, `${dir}/vendor`),
    device: readHex(sys, `${dir}/device`),
    driver: link === undefined ? null : basename(link),
    resources: parseResources(sys.readFile(`${dir}/resource`)),
    sysfsPath: dir,
  };
}

/** All PCI devices, optionally only those with the given vendor:device id. */
export function listPci(match: { vendor?: number; device?: number }, sys: SysfsReader, root = PCI_DEVICES): PciDevice[] {
  if (!sys.exists(root)) return [];
  const out: PciDevice[] = [];
  for (const address of sys.readdir(root).sort()) {
    const dir = `${root}/${address}`;
    if (match.vendor !== undefined && readHex(sys, `${dir}/vendor`) !== match.vendor) continue;
    if (match.device !== undefined && readHex(sys, `${dir}/device`) !== match.device) continue;
    out.push(readPciDevice(address, sys, root));
  }
  return out;
}
