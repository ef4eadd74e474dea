// Just enough ELF to check a shared object without binutils: its class and
// machine from the header, and the symbols it defines in .dynsym (what the
// dynamic loader, and so Node's dlopen, can find).
// Layouts: the System V gABI, "ELF Header", "Sections", "Symbol Table".

const SHT_DYNSYM = 11;
const SHN_UNDEF = 0;

export interface ElfInfo {
  /** 32 or 64 (EI_CLASS). */
  bits: 32 | 64;
  /** e_machine: 62 x86-64, 183 AArch64, 40 ARM. */
  machine: number;
  /** Section names, e.g. '.dynsym', '.symtab' (gone after strip --strip-all). */
  sections: string[];
  /** Names .dynsym defines (not the undefined ones it imports). */
  exports: string[];
}

const cstring = (b: Buffer, at: number): string => b.toString('latin1', at, b.indexOf(0, at));

/** Parses a little-endian ELF file's header, section names and defined dynamic symbols. */
export function readElf(b: Buffer): ElfInfo {
  if (!b.subarray(0, 4).equals(Buffer.from('\x7fELF', 'latin1'))) throw new Error('not an ELF file');
  if (b[5] !== 1) throw new Error('not little-endian');
  const bits = b[4] === 2 ? 64 : 32;
  const wide = bits === 64;
  const word = (at: number): number => (wide ? Number(b.readBigUInt64LE(at)) : b.readUInt32LE(at));
  const shoff = word(wide ? 0x28 : 0x20);
  const shentsize = b.readUInt16LE(wide ? 0x3a : 0x2e);
  const shnum = b.readUInt16LE(wide ? 0x3c : 0x30);
  const shstrndx = b.readUInt16LE(wide ? 0x3e : 0x32);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const at = shoff + i * shentsize;
    return {
      name: b.readUInt32LE(at),
      type: b.readUInt32LE(at + 4),
      offset: word(at + (wide ? 24 : 16)),
      size: word(at + (wide ? 32 : 20)),
      link: b.readUInt32LE(at + (wide ? 40 : 24)),
      entsize: word(at + (wide ? 56 : 36)),
    };
  });
  const names = sections[shstrndx]!;
  const exports: string[] = [];
  for (const s of sections.filter((x) => x.type === SHT_DYNSYM)) {
    const strtab = sections[s.link]!;
    for (let at = s.offset; at < s.offset + s.size; at += s.entsize) {
      const name = b.readUInt32LE(at);
      const shndx = b.readUInt16LE(at + (wide ? 6 : 14));
      if (name !== 0 && shndx !== SHN_UNDEF) exports.push(cstring(b, strtab.offset + name));
    }
  }
  return { bits, machine: b.readUInt16LE(18), sections: sections.map((s) => cstring(b, names.offset + s.name)), exports };
}
