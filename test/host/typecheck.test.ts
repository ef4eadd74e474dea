// vitest strips types without checking them, so a spec importing a name
// that moved would only fail when it runs (in a guest, minutes later). The
// compiler checks lib/ and both test tiers here, together.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('lib/ and every host and guest test type-check together (test/tsconfig.json)', () => {
  const tsc = join(process.cwd(), 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join('test', 'tsconfig.json'), '--pretty', 'false'], { encoding: 'utf8' });
  expect(r.stdout + r.stderr).toBe('');
  expect(r.status).toBe(0);
}, 120_000);
