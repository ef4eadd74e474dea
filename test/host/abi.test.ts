// The companion modules' user-space headers against their TypeScript mirrors
// (lib/ivshmem/abi.ts, lib/edu/abi.ts), and the kernel's DRM uapi headers
// against lib/drm/abi.ts (at the end). A C program generated from the
// headers prints every object-like #define, every struct's size and every
// field's offset and width; the TypeScript numbers must match, and the
// decoders and encoders (and Edu's own alloc/word records) are run on bytes
// laid out by those offsets.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { ensureHostTools } from '../../lib/harness/image/hosttools.js';
import { _IO, _IOR, _IOW, _IOWR } from '../../lib/ioctl.js';
import * as drm from '../../lib/drm/abi.js';
import * as drmStructs from '../../lib/drm/structs.js';
import { vblankType } from '../../lib/drm/vblank.js';
import * as edu from '../../lib/edu/abi.js';
import { openEdu } from '../../lib/edu/device.js';
import { eduSys } from '../../lib/edu/sys.js';
import * as ivshmem from '../../lib/ivshmem/abi.js';
import { tempDir } from '../helpers/tmp.js';

const headers = {
  ivshmem: join(process.cwd(), 'native', 'kmod', 'ivshmem', 'devmap_ivshmem.h'),
  edu: join(process.cwd(), 'native', 'kmod', 'edu', 'devmap_edu.h'),
};
const hasCc = spawnSync('cc', ['--version']).status === 0;

/** Commands a header defines that TypeScript deliberately does not mirror, and why. */
const NOT_MIRRORED: Record<string, string> = {
  IVSHMEM_IOC_SET_EVENTFD: 'the C interface for eventfd interrupts; TypeScript waits for interrupts by read()',
};

interface Parsed {
  defines: string[];
  structs: Map<string, string[]>;
}

/** Object-like #defines that have a value, and every struct's field names, in header order. */
function parse(text: string): Parsed {
  const defines = [...text.matchAll(/^#define\s+(\w+)[ \t]+\S/gm)].map((m) => m[1]!);
  const structs = new Map<string, string[]>();
  for (const m of text.matchAll(/^struct (\w+) \{([^}]*)\};/gm)) {
    structs.set(m[1]!, [...m[2]!.matchAll(/^\s*__[us]\d+\s+(\w+);/gm)].map((f) => f[1]!));
  }
  return { defines, structs };
}

// _IO*() samples for lib/ioctl.ts: TypeScript takes a size, C a type.
const SAMPLES: [string, number][] = [
  ['_IO(0, 0)', _IO(0, 0)],
  ['_IO(0xff, 0xff)', _IO(0xff, 0xff)],
  ['_IOR(0x46, 0x20, char[4])', _IOR(0x46, 0x20, 4)],
  ['_IOW(0xd7, 1, char[16383])', _IOW(0xd7, 1, 16383)],
  ['_IOWR(0xd8, 0xff, char[1])', _IOWR(0xd8, 0xff, 1)],
  ['_IOWR(0x01, 0x80, char[48])', _IOWR(0x01, 0x80, 48)],
];

interface Abi {
  value: Map<string, number>;
  size: Map<string, number>;
  field: Map<string, { offset: number; width: number }>;
  parsed: Record<keyof typeof headers, Parsed>;
}

function compile(): Abi {
  const parsed = { ivshmem: parse(readFileSync(headers.ivshmem, 'utf8')), edu: parse(readFileSync(headers.edu, 'utf8')) };
  const all = [parsed.ivshmem, parsed.edu];
  const lines = [
    '#include <stddef.h>',
    '#include <stdio.h>',
    ...Object.values(headers).map((h) => `#include "${h}"`),
    'int main(void) {',
    ...all.flatMap((p) => p.defines.map((d) => `printf("value ${d} %llu\\n", (unsigned long long)(${d}));`)),
    ...SAMPLES.map(([expr]) => `printf("value ${expr} %llu\\n", (unsigned long long)(${expr}));`),
    ...all.flatMap((p) => [...p.structs].flatMap(([s, fields]) => [
      `printf("size ${s} %zu\\n", sizeof(struct ${s}));`,
      ...fields.map((f) => `printf("field ${s}.${f} %zu %zu\\n", offsetof(struct ${s}, ${f}), sizeof(((struct ${s} *)0)->${f}));`),
    ])),
    'return 0; }',
  ];
  const dir = tempDir();
  writeFileSync(join(dir, 'abi.c'), lines.join('\n') + '\n');
  const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Werror', '-o', join(dir, 'abi'), join(dir, 'abi.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`cc failed:\n${cc.stderr}`);
  const abi: Abi = { value: new Map(), size: new Map(), field: new Map(), parsed };
  for (const line of spawnSync(join(dir, 'abi'), { encoding: 'utf8' }).stdout.trim().split('\n')) {
    const [kind, ...rest] = line.split(' ');
    const nums = rest.slice(-2).map(Number);
    if (kind === 'value') abi.value.set(rest.slice(0, -1).join(' '), nums[1]!);
    else if (kind === 'size') abi.size.set(rest[0]!, nums[1]!);
    else abi.field.set(rest[0]!, { offset: nums[0]!, width: nums[1]! });
  }
  return abi;
}

describe.skipIf(!hasCc)('ioctl ABI against the C headers (needs a C compiler: cc)', () => {
  const abi = hasCc ? compile() : undefined!;
  const c = (name: string): number => {
    const v = abi.value.get(name);
    if (v === undefined) throw new Error(`the header defines no ${name}`);
    return v;
  };
  const field = (name: string) => {
    const f = abi.field.get(name);
    if (f === undefined) throw new Error(`the header has no field ${name}`);
    return f;
  };
  const put = (b: Uint8Array, name: string, value: number | bigint): void => {
    const { offset, width } = field(name);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (width === 8) v.setBigUint64(offset, BigInt(value), true);
    else v.setUint32(offset, Number(value) >>> 0, true);
  };
  const get = (b: Uint8Array, name: string): number | bigint => {
    const { offset, width } = field(name);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return width === 8 ? v.getBigUint64(offset, true) : v.getUint32(offset, true);
  };
  const zeroed = (struct: string): Uint8Array => new Uint8Array(abi.size.get(struct)!);

  it.each([
    ['IVSHMEM', 'ivshmem', ivshmem.IOC],
    ['EDU', 'edu', edu.EDU_IOC],
  ] as const)('%s_IOC_*: every command the header defines has the same number in TypeScript', (prefix, which, ioc) => {
    const commands = abi.parsed[which].defines.filter((d) => d.startsWith(`${prefix}_IOC_`) && d !== `${prefix}_IOC_MAGIC`);
    expect(commands.length).toBeGreaterThan(0);
    for (const d of commands) {
      const name = d.slice(`${prefix}_IOC_`.length);
      if (NOT_MIRRORED[d]) expect(ioc, `${d} is listed as not mirrored`).not.toHaveProperty(name);
      else expect([d, ioc[name as keyof typeof ioc]]).toEqual([d, c(d)]);
    }
    // and TypeScript has no command the header lacks
    expect(Object.keys(ioc).map((n) => `${prefix}_IOC_${n}`).filter((d) => !commands.includes(d))).toEqual([]);
  });

  it('every struct has the size TypeScript gives it', () => {
    const ts: Record<string, number> = {
      ivshmem_info: ivshmem.INFO_SIZE,
      ivshmem_reg: ivshmem.REG_SIZE,
      ivshmem_eventfd: ivshmem.pair(0, -1).length,
      edu_info: edu.INFO_SIZE,
      edu_alloc: edu.ALLOC_SIZE,
      edu_xfer: edu.XFER_SIZE,
      edu_stats: edu.STATS_SIZE,
      edu_word: (edu.EDU_IOC.FACTORIAL >>> 16) & 0x3fff, // named nowhere else
    };
    const structs = [...abi.parsed.ivshmem.structs.keys(), ...abi.parsed.edu.structs.keys()];
    expect(Object.keys(ts).sort()).toEqual([...structs].sort());
    for (const s of structs) expect([s, ts[s]]).toEqual([s, abi.size.get(s)]);
  });

  it('constants: limits, directions, registers and cache modes', () => {
    expect([edu.EDU_WINDOW, edu.EDU_BUF_MAX, edu.EDU_TIMEOUT_MAX_MS, edu.EDU_TO_DEVICE, edu.EDU_FROM_DEVICE]).toEqual(
      ['EDU_DEV_WINDOW', 'EDU_BUF_MAX', 'EDU_TIMEOUT_MAX_MS', 'EDU_TO_DEVICE', 'EDU_FROM_DEVICE'].map(c)
    );
    expect(ivshmem.REGISTERS).toEqual({ intrmask: c('IVSHMEM_REG_INTRMASK'), intrstatus: c('IVSHMEM_REG_INTRSTATUS'), ivposition: c('IVSHMEM_REG_IVPOSITION'), doorbell: c('IVSHMEM_REG_DOORBELL') });
    expect(ivshmem.CACHE_MODES.map(ivshmem.cacheCode)).toEqual(['IVSHMEM_CACHE_WB', 'IVSHMEM_CACHE_UC', 'IVSHMEM_CACHE_WC'].map(c));
  });

  it('ivshmem decodeInfo reads every field of struct ivshmem_info where C puts it', () => {
    const b = zeroed('ivshmem_info');
    put(b, 'ivshmem_info.size', 0x1_0000_2000n);
    put(b, 'ivshmem_info.ivposition', 7);
    put(b, 'ivshmem_info.vectors', 3);
    put(b, 'ivshmem_info.variant', c('IVSHMEM_VARIANT_DOORBELL'));
    put(b, 'ivshmem_info.cache', c('IVSHMEM_CACHE_WC'));
    put(b, 'ivshmem_info.granted', c('IVSHMEM_CACHE_UC'));
    expect(ivshmem.decodeInfo(b)).toEqual({ size: 0x1_0000_2000n, ivPosition: 7, vectors: 3, variant: 'doorbell', cache: 'wc', granted: 'uc' });
    put(b, 'ivshmem_info.variant', c('IVSHMEM_VARIANT_PLAIN'));
    put(b, 'ivshmem_info.granted', c('IVSHMEM_CACHE_NONE'));
    expect(ivshmem.decodeInfo(b)).toMatchObject({ variant: 'plain', granted: null });
  });

  it('ivshmem pair() lays out struct ivshmem_reg and struct ivshmem_eventfd', () => {
    const reg = ivshmem.pair(c('IVSHMEM_REG_DOORBELL'), 0x0003_0001);
    expect([get(reg, 'ivshmem_reg.offset'), get(reg, 'ivshmem_reg.value')]).toEqual([c('IVSHMEM_REG_DOORBELL'), 0x0003_0001]);
    const efd = ivshmem.pair(5, -1);
    expect([get(efd, 'ivshmem_eventfd.vector'), get(efd, 'ivshmem_eventfd.fd')]).toEqual([5, 0xffffffff]);
  });

  it('edu decodeInfo reads every field of struct edu_info, irq modes by their EDU_IRQ_* value', () => {
    const b = zeroed('edu_info');
    put(b, 'edu_info.ident', 0x010000ed);
    put(b, 'edu_info.dma_mask', 0xfffffffn);
    put(b, 'edu_info.window', 4095);
    put(b, 'edu_info.buf_max', 4 << 20);
    for (const mode of ['poll', 'intx', 'msi'] as const) {
      put(b, 'edu_info.irq_mode', c(`EDU_IRQ_${mode.toUpperCase()}`));
      expect(edu.decodeInfo(b)).toEqual({ ident: 0x010000ed, version: { major: 1, minor: 0 }, irqMode: mode, dmaMask: 0xfffffffn, window: 4095, bufferMax: 4 << 20 });
    }
  });

  it('edu decodeStats reads every field of struct edu_stats', () => {
    const b = zeroed('edu_stats');
    const names = { allocated: 'allocated', freed: 'freed', liveBytes: 'live_bytes', transfers: 'transfers', timeouts: 'timeouts', irqs: 'irqs' };
    const want = Object.fromEntries(Object.keys(names).map((k, i) => [k, 2 ** 33 + i]));
    for (const [k, f] of Object.entries(names)) put(b, `edu_stats.${f}`, want[k]!);
    expect(abi.parsed.edu.structs.get('edu_stats')).toEqual(Object.values(names));
    expect(edu.decodeStats(b)).toEqual(want);
  });

  it('edu encodeTransfer writes every field of struct edu_xfer where C reads it', () => {
    const b = edu.encodeTransfer(7, c('EDU_FROM_DEVICE'), { offset: 0x1_0000_0003, deviceOffset: 4094, length: 5, timeoutMs: 250 });
    const fields = abi.parsed.edu.structs.get('edu_xfer')!;
    expect(Object.fromEntries(fields.map((f) => [f, get(b, `edu_xfer.${f}`)]))).toEqual({
      id: 7, dir: c('EDU_FROM_DEVICE'), offset: 0x1_0000_0003n, length: 5, dev_offset: 4094, timeout_ms: 250, pad: 0,
    });
  });

  it('Edu reads struct edu_alloc and struct edu_word where C puts them (a fake driver on a regular file)', () => {
    const path = join(tempDir(), 'edu');
    writeFileSync(path, new Uint8Array(8192));
    const asked: unknown[] = [];
    const windows: unknown[] = [];
    const dev = openEdu(path, {
      ...eduSys,
      ioctl: (_fd, request, arg) => {
        if (request === edu.EDU_IOC.ALLOC && arg instanceof Uint8Array) {
          asked.push(get(arg, 'edu_alloc.size'));
          for (const [f, v] of [['size', 4096n], ['offset', 4096n], ['dma_addr', 0x1234_5000n], ['id', 42]] as const) put(arg, `edu_alloc.${f}`, v);
        }
        if (request === edu.EDU_IOC.FACTORIAL && arg instanceof Uint8Array) put(arg, 'edu_word.out', Number(get(arg, 'edu_word.in')) * 3);
        return 0;
      },
      map: (fd, p, window) => (windows.push(window), eduSys.map(fd, p, window)),
    });
    try {
      const buf = dev.allocDma(100);
      expect([asked, windows, buf.id, buf.dmaAddress, buf.size]).toEqual([[100n], [{ offset: 4096n, length: 4096n }], 42, 0x1234_5000n, 4096]);
      buf.free();
      expect(dev.factorial(5)).toBe(15);
    } finally {
      dev.close();
    }
  });

  it("lib/ioctl.ts's _IO/_IOR/_IOW/_IOWR agree with <linux/ioctl.h>", () => {
    for (const [expr, ts] of SAMPLES) expect([expr, ts]).toEqual([expr, c(expr)]);
  });
});

// The DRM ABI of lib/drm/abi.ts against the kernel's uapi headers drm.h,
// drm_mode.h and drm_fourcc.h: the copies libdrm's development package
// installs (/usr/include/libdrm; Debian: libdrm-dev) or the kernel's own
// (/usr/include/drm). devmap itself never links libdrm.
const DRM_INCLUDES = ['/usr/include/libdrm', '/usr/include/drm'];
// A fresh Debian host has neither (its linux-libc-dev carries no DRM
// headers): as root, install libdrm-dev for its headers, as the harness
// installs the tools it uses; otherwise the block says what it needs.
if (process.getuid?.() === 0 && !DRM_INCLUDES.some((d) => existsSync(join(d, 'drm_mode.h')))) {
  try {
    ensureHostTools((l) => process.stderr.write(`devmap: ${l}\n`), [{ file: '/usr/include/libdrm/drm_mode.h', pkg: 'libdrm-dev' }]);
  } catch (err) {
    process.stderr.write(`devmap: ${(err as Error).message}\n`);
  }
}
const drmInclude = DRM_INCLUDES.find((d) => existsSync(join(d, 'drm_mode.h')));

/** struct.field -> the offset lib/drm's encoders and decoders use. */
const DRM_FIELDS: Record<string, number> = {
  'drm_get_cap.value': 8,
  'drm_mode_card_res.count_fbs': 32, 'drm_mode_card_res.count_encoders': 44, 'drm_mode_card_res.max_height': 60,
  'drm_mode_modeinfo.hdisplay': 4, 'drm_mode_modeinfo.vscan': 22, 'drm_mode_modeinfo.vrefresh': 24, 'drm_mode_modeinfo.flags': 28, 'drm_mode_modeinfo.type': 32, 'drm_mode_modeinfo.name': 36,
  'drm_mode_crtc.count_connectors': 8, 'drm_mode_crtc.crtc_id': 12, 'drm_mode_crtc.fb_id': 16, 'drm_mode_crtc.x': 20, 'drm_mode_crtc.y': 24, 'drm_mode_crtc.gamma_size': 28, 'drm_mode_crtc.mode_valid': 32, 'drm_mode_crtc.mode': 36,
  'drm_mode_get_encoder.encoder_type': 4, 'drm_mode_get_encoder.crtc_id': 8, 'drm_mode_get_encoder.possible_crtcs': 12, 'drm_mode_get_encoder.possible_clones': 16,
  'drm_mode_get_connector.modes_ptr': 8, 'drm_mode_get_connector.props_ptr': 16, 'drm_mode_get_connector.prop_values_ptr': 24, 'drm_mode_get_connector.count_modes': 32,
  'drm_mode_get_connector.count_props': 36, 'drm_mode_get_connector.count_encoders': 40, 'drm_mode_get_connector.encoder_id': 44, 'drm_mode_get_connector.connector_id': 48,
  'drm_mode_get_connector.connector_type': 52, 'drm_mode_get_connector.connector_type_id': 56, 'drm_mode_get_connector.connection': 60, 'drm_mode_get_connector.mm_width': 64, 'drm_mode_get_connector.mm_height': 68,
  'drm_mode_get_plane_res.count_planes': 8,
  'drm_mode_get_plane.crtc_id': 4, 'drm_mode_get_plane.fb_id': 8, 'drm_mode_get_plane.possible_crtcs': 12, 'drm_mode_get_plane.count_format_types': 20, 'drm_mode_get_plane.format_type_ptr': 24,
  'drm_mode_fb_cmd2.width': 4, 'drm_mode_fb_cmd2.height': 8, 'drm_mode_fb_cmd2.pixel_format': 12, 'drm_mode_fb_cmd2.handles': 20, 'drm_mode_fb_cmd2.pitches': 36,
  'drm_mode_crtc_page_flip.fb_id': 4, 'drm_mode_crtc_page_flip.flags': 8, 'drm_mode_crtc_page_flip.user_data': 16,
  'drm_mode_fb_dirty_cmd.num_clips': 12, 'drm_mode_fb_dirty_cmd.clips_ptr': 16,
  'drm_mode_create_dumb.bpp': 8, 'drm_mode_create_dumb.handle': 16, 'drm_mode_create_dumb.pitch': 20, 'drm_mode_create_dumb.size': 24,
  'drm_mode_map_dumb.offset': 8,
  'drm_mode_fb_cmd.width': 4, 'drm_mode_fb_cmd.height': 8, 'drm_mode_fb_cmd.pitch': 12, 'drm_mode_fb_cmd.bpp': 16, 'drm_mode_fb_cmd.depth': 20, 'drm_mode_fb_cmd.handle': 24,
  'drm_event_vblank.user_data': 8, 'drm_event_vblank.tv_sec': 16, 'drm_event_vblank.tv_usec': 20, 'drm_event_vblank.sequence': 24, 'drm_event_vblank.crtc_id': 28,
};

describe.skipIf(!hasCc || !drmInclude)('DRM ioctl ABI against drm.h, drm_mode.h and drm_fourcc.h (needs cc and the uapi DRM headers: libdrm-dev)', () => {
  const run = (): Map<string, number> => {
    const size = Object.keys(drm.SIZE).map((s) => `printf("size ${s} %zu\\n", sizeof(struct drm_${s}));`);
    const ioc = Object.keys(drm.DRM_IOCTL).map((k) => `printf("value DRM_IOCTL_${k} %lu\\n", (unsigned long)(DRM_IOCTL_${k}));`);
    const caps = Object.entries(drm.DRM_CAP).map(([, v]) => v);
    const capNames = ['DUMB_BUFFER', 'VBLANK_HIGH_CRTC', 'DUMB_PREFERRED_DEPTH', 'DUMB_PREFER_SHADOW', 'PRIME', 'TIMESTAMP_MONOTONIC', 'ASYNC_PAGE_FLIP', 'CURSOR_WIDTH', 'CURSOR_HEIGHT', 'ADDFB2_MODIFIERS', 'PAGE_FLIP_TARGET', 'CRTC_IN_VBLANK_EVENT', 'SYNCOBJ', 'SYNCOBJ_TIMELINE'];
    expect(caps.length).toBe(capNames.length);
    const consts = [
      ...capNames.map((c) => `DRM_CAP_${c}`), 'DRM_CLIENT_CAP_UNIVERSAL_PLANES', 'DRM_MODE_PAGE_FLIP_EVENT', 'DRM_EVENT_VBLANK', 'DRM_EVENT_FLIP_COMPLETE',
      'DRM_MODE_TYPE_PREFERRED', 'DRM_DISPLAY_MODE_LEN', '_DRM_VBLANK_RELATIVE', '_DRM_VBLANK_EVENT', '_DRM_VBLANK_SECONDARY', '_DRM_VBLANK_HIGH_CRTC_SHIFT', 'sizeof(union drm_wait_vblank)', 'DRM_MODE_CONNECTOR_USB', 'DRM_MODE_ENCODER_DPI', ...Object.keys(drm.FORMATS).map((f) => `DRM_FORMAT_${f}`),
    ].map((n) => `printf("value ${n} %lu\\n", (unsigned long)(${n}));`);
    consts.push('printf("value WAIT_VBLANK_SIZE %zu\\n", sizeof(union drm_wait_vblank));');
    consts.push('printf("value VERSION_SIZE %zu\\n", sizeof(struct drm_version));');
    consts.push('printf("value VERSION_NAME_LEN %zu\\n", offsetof(struct drm_version, name_len));');
    consts.push('printf("value VERSION_NAME %zu\\n", offsetof(struct drm_version, name));');
    const fields = Object.keys(DRM_FIELDS).map((f) => {
      const [s, m] = f.split('.');
      return `printf("field ${f} %zu\\n", offsetof(struct ${s}, ${m}));`;
    });
    const dir = tempDir();
    writeFileSync(join(dir, 'drm.c'), ['#include <stddef.h>', '#include <stdio.h>', '#include <drm.h>', '#include <drm_mode.h>', '#include <drm_fourcc.h>', 'int main(void) {', ...size, ...ioc, ...consts, ...fields, 'return 0; }'].join('\n'));
    const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Werror', `-I${drmInclude}`, '-o', join(dir, 'drm'), join(dir, 'drm.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc failed:\n${cc.stderr}`);
    const out = new Map<string, number>();
    for (const line of spawnSync(join(dir, 'drm'), { encoding: 'utf8' }).stdout.trim().split('\n')) {
      const [kind, name, v] = line.split(' ');
      out.set(`${kind} ${name}`, Number(v));
    }
    return out;
  };
  const c = hasCc && drmInclude ? run() : new Map<string, number>();
  const get = (k: string): number | undefined => c.get(k);

  it('struct sizes', () => {
    for (const [s, n] of Object.entries(drm.SIZE)) expect([s, n]).toEqual([s, get(`size ${s}`)]);
  });

  it('request numbers', () => {
    for (const [k, n] of Object.entries(drm.DRM_IOCTL)) expect([k, n]).toEqual([k, get(`value DRM_IOCTL_${k}`)]);
  });

  it('capabilities, flags, event types, connector and encoder names, fourccs', () => {
    const names = ['DUMB_BUFFER', 'VBLANK_HIGH_CRTC', 'DUMB_PREFERRED_DEPTH', 'DUMB_PREFER_SHADOW', 'PRIME', 'TIMESTAMP_MONOTONIC', 'ASYNC_PAGE_FLIP', 'CURSOR_WIDTH', 'CURSOR_HEIGHT', 'ADDFB2_MODIFIERS', 'PAGE_FLIP_TARGET', 'CRTC_IN_VBLANK_EVENT', 'SYNCOBJ', 'SYNCOBJ_TIMELINE'];
    expect(Object.values(drm.DRM_CAP)).toEqual(names.map((n) => get(`value DRM_CAP_${n}`)));
    expect([drm.DRM_CLIENT_CAP_UNIVERSAL_PLANES, drm.DRM_MODE_PAGE_FLIP_EVENT, drm.DRM_EVENT_VBLANK, drm.DRM_EVENT_FLIP_COMPLETE, drm.DRM_MODE_TYPE_PREFERRED, drm.DRM_DISPLAY_MODE_LEN]).toEqual(
      ['DRM_CLIENT_CAP_UNIVERSAL_PLANES', 'DRM_MODE_PAGE_FLIP_EVENT', 'DRM_EVENT_VBLANK', 'DRM_EVENT_FLIP_COMPLETE', 'DRM_MODE_TYPE_PREFERRED', 'DRM_DISPLAY_MODE_LEN'].map((n) => get(`value ${n}`))
    );
    expect([drm._DRM_VBLANK_RELATIVE, drm._DRM_VBLANK_EVENT, drm._DRM_VBLANK_SECONDARY, drm._DRM_VBLANK_HIGH_CRTC_SHIFT, drm.WAIT_VBLANK_SIZE]).toEqual(
      ['_DRM_VBLANK_RELATIVE', '_DRM_VBLANK_EVENT', '_DRM_VBLANK_SECONDARY', '_DRM_VBLANK_HIGH_CRTC_SHIFT', 'WAIT_VBLANK_SIZE'].map((n) => get(`value ${n}`))
    );
    expect([drm.VERSION_SIZE, 16, 24]).toEqual(['VERSION_SIZE', 'VERSION_NAME_LEN', 'VERSION_NAME'].map((n) => get(`value ${n}`)));
    expect([0, 1, 2].map(vblankType)).toEqual([0x4000001, 0x24000001, 0x4000005]);
    expect(drm.CONNECTOR_TYPES.length - 1).toBe(get('value DRM_MODE_CONNECTOR_USB'));
    expect(drm.ENCODER_TYPES.length - 1).toBe(get('value DRM_MODE_ENCODER_DPI'));
    for (const [f, { fourcc }] of Object.entries(drm.FORMATS)) expect([f, fourcc]).toEqual([f, get(`value DRM_FORMAT_${f}`)]);
  });

  it('field offsets the encoders and decoders use', () => {
    for (const [f, at] of Object.entries(DRM_FIELDS)) expect([f, at]).toEqual([f, get(`field ${f}`)]);
  });

  it('decoders read structs laid out at the C offsets', () => {
    const [b, v] = drmStructs.struct(drm.SIZE.event_vblank * 2);
    for (const [i, k] of [[0, 1], [32, 2]] as const) {
      v.setUint32(i, drm.DRM_EVENT_FLIP_COMPLETE, true);
      v.setUint32(i + 4, drm.SIZE.event_vblank, true);
      v.setBigUint64(i + get('field drm_event_vblank.user_data')!, BigInt(k), true);
      v.setUint32(i + get('field drm_event_vblank.tv_sec')!, 5, true);
      v.setUint32(i + get('field drm_event_vblank.tv_usec')!, k, true);
      v.setUint32(i + get('field drm_event_vblank.sequence')!, 10 + k, true);
      v.setUint32(i + get('field drm_event_vblank.crtc_id')!, 36, true);
    }
    expect(drmStructs.decodeEvents(b)).toEqual([1, 2].map((k) => ({ type: 2, userData: BigInt(k), tvSec: 5, tvUsec: k, sequence: 10 + k, crtcId: 36 })));
    const mode = { name: '1280x800', clock: 83500, hdisplay: 1280, hsyncStart: 1352, hsyncEnd: 1480, htotal: 1680, hskew: 0, vdisplay: 800, vsyncStart: 803, vsyncEnd: 809, vtotal: 831, vscan: 0, vrefresh: 60, flags: 6, type: 0x48, preferred: true };
    const crtc = drmStructs.encodeSetCrtc(36, 38, 0, 0, mode, 0x1234n, 1);
    const cv = new DataView(crtc.buffer);
    expect([cv.getUint32(get('field drm_mode_crtc.crtc_id')!, true), cv.getUint32(get('field drm_mode_crtc.fb_id')!, true), cv.getUint32(get('field drm_mode_crtc.mode_valid')!, true)]).toEqual([36, 38, 1]);
    expect(drmStructs.decodeCrtc(cv)).toEqual({ id: 36, fbId: 38, x: 0, y: 0, gammaSize: 0, mode });
    expect(drm.fourccName(drm.FORMATS.XRGB8888.fourcc)).toBe('XR24');
  });
});
