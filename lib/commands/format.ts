// Text formatting helpers shared by the CLI commands.

/** Classic 16-bytes-a-line hex dump with an ASCII column. */
export function hexdump(bytes: Uint8Array, base = 0): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = bytes.subarray(i, Math.min(i + 16, bytes.length));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${(base + i).toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${text}|`);
  }
  return lines.join('\n');
}

/** 1536 -> '1.5 KiB' */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/**
 * Parses a byte count or offset typed by a person: decimal, 0x hex, or with
 * a binary suffix (4K, 16M, 1G). Throws a RangeError naming `name`.
 */
export function parseSize(text: string, name: string): bigint {
  const m = /^(0x[0-9a-f]+|\d+)([kmg]i?b?)?$/i.exec(text.trim());
  if (!m) throw Object.assign(new RangeError(`${name} must be a number like 4096, 0x1000 or 4K, got "${text}"`), { code: 'ERR_OUT_OF_RANGE' });
  const shift = { k: 10n, m: 20n, g: 30n }[(m[2] ?? '').charAt(0).toLowerCase()] ?? 0n;
  return BigInt(m[1]!) << shift;
}
