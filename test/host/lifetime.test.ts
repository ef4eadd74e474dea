// unmap(), detaching, the GC safety net, process exit and worker threads.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { mapFile, PAGE_SIZE } from '../../lib/index.js';
import { countMaps, tempFile } from '../helpers/tmp.js';

const dist = join(process.cwd(), 'dist', 'index.js');
const maps = () => readFileSync('/proc/self/maps', 'utf8');

/** Runs an ES module snippet in a fresh node with `devmap` imported as `m`. */
function runNode(body: string, args: string[] = []) {
  const code = `const m = await import(${JSON.stringify(dist)});\n${body}`;
  return spawnSync(process.execPath, [...args, '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
}

describe('unmap()', () => {
  it('detaches: every old view has length 0, methods throw, a second unmap is a no-op', () => {
    const path = tempFile(2 * PAGE_SIZE);
    const m = mapFile(path);
    const bytes = m.bytes;
    const words = new Uint32Array(m.buffer, 8, 4);
    const buffer = m.buffer;
    words[0] = 42;
    m.unmap();
    expect(m.closed).toBe(true);
    expect(bytes.length).toBe(0);
    expect(words.length).toBe(0);
    expect(buffer.byteLength).toBe(0);
    expect(bytes[0]).toBeUndefined(); // reads of a detached view are harmless
    bytes[0] = 1; // and so are writes: they go nowhere
    expect(() => m.read32(0)).toThrow(expect.objectContaining({ code: 'ERR_DEVMAP_UNMAPPED' }));
    expect(() => m.write8(0, 1)).toThrow(/already unmapped/);
    expect(() => m.sync()).toThrow(/already unmapped/);
    expect(() => m.address).toThrow(/already unmapped/);
    expect(() => new Uint8Array(buffer)).toThrow(/detached/);
    expect(() => m.unmap()).not.toThrow();
    m[Symbol.dispose]();
    expect(countMaps(path, maps())).toBe(0);
    expect(readFileSync(path).readUInt32LE(8)).toBe(42);
  });

  it('Symbol.dispose unmaps', () => {
    const path = tempFile(PAGE_SIZE);
    const m = mapFile(path);
    expect(countMaps(path, maps())).toBe(1);
    m[Symbol.dispose]();
    expect(m.closed).toBe(true);
    expect(countMaps(path, maps())).toBe(0);
  });
});

describe('the GC safety net', () => {
  it('unmaps forgotten mappings when collected, and never unmaps twice when racing unmap()', () => {
    const path = tempFile(PAGE_SIZE);
    const r = runNode(
      `const { readFileSync } = await import('node:fs');
       const count = () => readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith(${JSON.stringify(' ' + path)})).length;
       const keep = [];
       for (let i = 0; i < 2000; i++) {
         const x = m.mapFile(${JSON.stringify(path)});
         if (i % 3 === 0) x.unmap();            // unmapped now, collected later
         else if (i % 3 === 1) keep.push(x);     // unmapped after a GC below
         // else: forgotten, the finalizer unmaps it
       }
       const before = count();
       gc();
       await new Promise((r) => setTimeout(r, 50));
       gc();
       await new Promise((r) => setTimeout(r, 50));
       const afterGc = count();
       for (const x of keep) { x.bytes[0] = 1; x.unmap(); }
       gc();
       await new Promise((r) => setTimeout(r, 50));
       console.log(JSON.stringify({ before, afterGc, after: count(), kept: keep.length }));`,
      ['--expose-gc']
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, number>;
    expect(out.before).toBe(1333);
    expect(out.afterGc).toBe(out.kept);
    expect(out.after).toBe(0);
  });

  it('keeps the pages while a view is alive even if the Mapping object is dropped', () => {
    const path = tempFile(Uint8Array.of(9, 8, 7));
    const r = runNode(
      `let view = m.mapFile(${JSON.stringify(path)}).bytes;
       gc(); await new Promise((r) => setTimeout(r, 20)); gc();
       console.log(view[0], view[2]);`,
      ['--expose-gc']
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('9 7\n');
  });
});

describe('process exit', () => {
  it('exits cleanly with live mappings (process.exit and natural end), writes kept', () => {
    const path = tempFile(PAGE_SIZE);
    const a = runNode(`const x = m.mapFile(${JSON.stringify(path)}); x.bytes[0] = 0x11; process.exit(3);`);
    expect(a.status).toBe(3);
    expect(a.stderr).toBe('');
    const b = runNode(`const x = m.mapFile(${JSON.stringify(path)}); x.bytes[1] = 0x22; globalThis.keep = x;`);
    expect(b.status).toBe(0);
    expect(b.signal).toBeNull();
    expect([...readFileSync(path).subarray(0, 2)]).toEqual([0x11, 0x22]);
  });
});

describe('worker threads', () => {
  function inWorker(code: string): Promise<unknown> {
    const w = new Worker(`const m = await import(${JSON.stringify(dist)});\n${code}`, { eval: true, type: 'module' } as never);
    return new Promise((resolve, reject) => {
      let msg: unknown;
      w.on('message', (v) => (msg = v));
      w.on('error', reject);
      w.on('exit', (code) => (code === 0 ? resolve(msg) : reject(new Error(`worker exited ${code}`))));
    });
  }

  it('maps in a worker; the main thread sees its writes; its mappings go when it exits', async () => {
    const path = tempFile(PAGE_SIZE);
    const main = mapFile(path);
    const msg = await inWorker(
      `const { parentPort } = await import('node:worker_threads');
       const x = m.mapFile(${JSON.stringify(path)});
       x.write32(0, 0xcafe);
       const leftover = m.mapFile(${JSON.stringify(path)}); // never unmapped: the worker's teardown must do it
       globalThis.keep = leftover;
       parentPort.postMessage(x.read32(0));
       x.unmap();`
    );
    expect(msg).toBe(0xcafe);
    expect(main.read32(0)).toBe(0xcafe);
    expect(countMaps(path, maps())).toBe(1); // only the main thread's
    main.unmap();
  });

  it('works in several workers at once, each with its own state', async () => {
    const path = tempFile(PAGE_SIZE);
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) =>
        inWorker(
          `const { parentPort } = await import('node:worker_threads');
           for (let k = 0; k < 200; k++) { const x = m.mapFile(${JSON.stringify(path)}); x.write32(${i * 4}, k); x.unmap(); }
           parentPort.postMessage('ok');`
        )
      )
    );
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect([...new Uint32Array(readFileSync(path).buffer.slice(0, 16))]).toEqual([199, 199, 199, 199]);
    expect(countMaps(path, maps())).toBe(0);
  });

  it('a mapping is never transferred to another thread: it is copied, the mapping stays here', async () => {
    const m = mapFile(tempFile(PAGE_SIZE));
    m.bytes[0] = 5;
    const { port1, port2 } = new MessageChannel();
    const got = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
    port1.postMessage(m.buffer, [m.buffer]);
    const copy = new Uint8Array(await got);
    port1.close();
    port2.close();
    expect(m.bytes.length).toBe(PAGE_SIZE);
    expect(copy[0]).toBe(5);
    copy[0] = 6;
    expect(m.bytes[0]).toBe(5);
    m.unmap();
  });
});
