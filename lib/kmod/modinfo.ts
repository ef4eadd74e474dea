// A kernel module file's own description: the key=value strings of its
// .modinfo section (vermagic, srcversion, depends...) and its GNU build ID,
// read from the ELF, the way modinfo(8) reads them, but without kmod.
import { devmapError } from '../errors.js';

export interface ModInfo {
  /** Every value of each key, in file order (alias and parm repeat). */
  fields: Record<string, string[]>;
  /** The first value of `key`, if any. */
  get(key: string): string | undefined;
  /** The release in vermagic ("6.1.0-57-amd64 SMP preempt mod_unload ..." -> "6.1.0-57-amd64"). */
  release?: string;
  /** The module's name= (what /sys/module/NAME is called). */
  name?: string;
  /** depends= split: modules that must be loaded first. */
  depends: string[];
  /** The .note.gnu.build-id as hex, which /sys/module/NAME/notes/.note.gnu.build-id holds for the loaded module. */
  buildId?: string;
}

interface Section {
  name: string;
  offset: number;
  size: number;
}

function sections(elf: Buffer, what: string): Section[] {
  if (elf.length < 52 || elf.readUInt32BE(0) !== 0x7f454c46) throw devmapError('ERR_DEVMAP_KMOD', `${what} is not an ELF file (a kernel module .ko)`);
  const is64 = elf[4] === 2;
  const le = elf[5] === 1;
  const u16 = (o: number): number => (le ? elf.readUInt16LE(o) : elf.readUInt16BE(o));
  const u32 = (o: number): number => (le ? elf.readUInt32LE(o) : elf.readUInt32BE(o));
  const addr = (o: number): number => (is64 ? Number(le ? elf.readBigUInt64LE(o) : elf.readBigUInt64BE(o)) : u32(o));
  const shoff = addr(is64 ? 0x28 : 0x20);
  const [entsize, count, strndx] = is64 ? [u16(0x3a), u16(0x3c), u16(0x3e)] : [u16(0x2e), u16(0x30), u16(0x32)];
  if (shoff + entsize * count > elf.length || strndx >= count) throw devmapError('ERR_DEVMAP_KMOD', `${what}: its section table runs past the end of the file`);
  const raw = Array.from({ length: count }, (_, i) => {
    const at = shoff + i * entsize;
    return { nameAt: u32(at), offset: addr(at + (is64 ? 0x18 : 0x10)), size: addr(at + (is64 ? 0x20 : 0x14)) };
  });
  const names = raw[strndx]!;
  return raw.map((s) => {
    const start = names.offset + s.nameAt;
    const end = elf.indexOf(0, start);
    return { name: elf.toString('latin1', start, end < 0 ? start : end), offset: s.offset, size: s.size };
  });
}

/**
 * The ID in a GNU build-id note (namesz, descsz, type 3, "GNU\0", then the
 * ID), as hex: a .ko's section, or /sys/module/NAME/notes/.note.gnu.build-id
 * of a loaded module (the same bytes, in the machine's byte order).
 */
export function noteBuildId(note: Buffer | undefined, le = true): string | undefined {
  if (!note || note.length < 16) return undefined;
  const u32 = (o: number): number => (le ? note.readUInt32LE(o) : note.readUInt32BE(o));
  const [namesz, descsz, type] = [u32(0), u32(4), u32(8)];
  const desc = 12 + ((namesz + 3) & ~3);
  return type === 3 && desc + descsz <= note.length ? note.toString('hex', desc, desc + descsz) : undefined;
}

/** Reads the .modinfo of an uncompressed module image; `what` names it in errors. */
export function parseModInfo(elf: Buffer, what = 'the module'): ModInfo {
  const all = sections(elf, what);
  const info = all.find((s) => s.name === '.modinfo');
  if (!info) throw devmapError('ERR_DEVMAP_KMOD', `${what} has no .modinfo section: not a kernel module`);
  const fields: Record<string, string[]> = {};
  for (const entry of elf.toString('latin1', info.offset, info.offset + info.size).split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) (fields[entry.slice(0, eq)] ??= []).push(entry.slice(eq + 1));
  }
  const get = (key: string): string | undefined => fields[key]?.[0];
  const release = get('vermagic')?.split(' ')[0];
  const name = get('name');
  const note = all.find((s) => s.name === '.note.gnu.build-id');
  const buildId = note && noteBuildId(elf.subarray(note.offset, note.offset + note.size), elf[5] === 1);
  return {
    fields, get,
    ...(release ? { release } : {}),
    ...(name ? { name } : {}),
    depends: (get('depends') ?? '').split(',').filter(Boolean),
    ...(buildId ? { buildId } : {}),
  };
}
