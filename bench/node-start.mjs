// Baseline of the boot figures in `npm run bench`: how long a bare
// `node -e 0` takes in this guest, run right after the first test of the
// same boot. Prints { nodeStartMs } (median of 5, after one warm-up).
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';

const t = [];
for (let i = 0; i < 6; i++) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['-e', '0']);
  if (r.status !== 0) throw new Error(`node -e 0 exited with ${r.status}`);
  if (i > 0) t.push(performance.now() - t0);
}
t.sort((a, b) => a - b);
console.log(JSON.stringify({ nodeStartMs: t[2] }));
