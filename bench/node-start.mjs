// Baselines of the boot figures in `npm run bench`: how long a bare
// `node -e 0` takes in this guest, and a node that only imports devmap,
// run right after the first test of the same boot. Prints
// { nodeStartMs, devmapImportMs } (medians of 5, after one warm-up each).
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Median ms of 5 runs of node with `args`, after one untimed run. */
function timed(args) {
  const t = [];
  for (let i = 0; i < 6; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args);
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
    if (i > 0) t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[2];
}

console.log(JSON.stringify({ nodeStartMs: timed(['-e', '0']), devmapImportMs: timed(['--input-type=module', '-e', 'await import("devmap")']) }));
