// Runs inside the guest, against the real module:
//   devmap guest run --kmod examples/mmap-driver --with examples/mmap-driver/test \
//     -- node --test examples/mmap-driver/test/
// node:test needs nothing installed; devmap is importable in every guest.
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { test } from 'node:test';

import { findVma, mapFile, PAGE_SIZE, readMaps } from 'devmap';

const DEV = '/dev/mmapdemo';
const pages = Number(readFileSync('/sys/module/mmapdemo/parameters/pages', 'utf8'));
const size = pages * PAGE_SIZE;

/** The kernel's view of the buffer, through read(). */
function kernelView() {
  const fd = openSync(DEV, 'r');
  try {
    const out = Buffer.alloc(size);
    assert.equal(readSync(fd, out, 0, size, 0), size);
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Maps DEV for the length of fn; unmaps afterwards (Node 20 has no `using`). */
function withMapping(options, fn) {
  const m = mapFile(DEV, options);
  try {
    return fn(m);
  } finally {
    m.unmap();
  }
}

test('the mapping starts with what the driver wrote at load time', () => {
  withMapping({ length: size }, (m) => {
    assert.equal(Buffer.from(m.bytes.subarray(0, 16)).toString('latin1').split('\n')[0], `mmapdemo ${pages}`);
  });
});

test('bytes written through the mapping are what the kernel reads, on every page', () => {
  withMapping({ length: size }, (m) => {
    for (let p = 0; p < pages; p++) m.write32(p * PAGE_SIZE + 64, 0xc0ffee00 + p);
  });
  const k = kernelView();
  for (let p = 0; p < pages; p++) assert.equal(k.readUInt32LE(p * PAGE_SIZE + 64), 0xc0ffee00 + p);
});

test('a window at an offset maps the right page, with the VMA flags of remap_vmalloc_range', () => {
  withMapping({ offset: PAGE_SIZE, length: PAGE_SIZE }, (m) => {
    assert.equal(m.read32(64), 0xc0ffee01);
    const vma = findVma(readMaps(), m.address);
    assert.equal(vma.path, DEV);
    assert.equal(vma.perms, 'rw-s');
    assert.ok(vma.vmFlags.includes('dd') && vma.vmFlags.includes('de'), vma.vmFlags.join(' '));
  });
});

test('the driver refuses a mapping past the end with EINVAL', () => {
  assert.throws(() => mapFile(DEV, { length: size + PAGE_SIZE }), { code: 'EINVAL', syscall: 'mmap' });
  assert.throws(() => mapFile(DEV, { offset: size, length: PAGE_SIZE }), { code: 'EINVAL', syscall: 'mmap' });
});
