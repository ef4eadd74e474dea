// Run by devmapPool() in a child process when vitest loads its config:
// builds what the guests need -- the guest image, the user's modules for
// the guest kernel (a build root of the kernel's suite the first time) --
// with progress on stderr, before vitest starts a worker (it gives each 90 s
// to start, and a cold image takes minutes).
//   node prepare.js '{"machine":..., "kernel":..., "kmod":[absolute dirs]}'
import { stderrLog } from '../harness/image/cache.js';
import { prepareImage } from '../harness/image/image.js';
import { buildUserModule } from '../harness/image/kmods.js';
import { ARCHES, findMachine } from '../harness/machines/machines.js';

const o = JSON.parse(process.argv[2] ?? '{}') as { machine?: string; kernel?: string; kmod?: string[] };
try {
  const m = findMachine(o.machine);
  const image = prepareImage(m.arch, stderrLog, o.kernel, { vitest: true });
  for (const dir of o.kmod ?? []) buildUserModule(image.kernel, dir, stderrLog, ARCHES[m.arch]);
} catch (err) {
  process.stderr.write(`devmap/vitest: ${(err as Error).message}\n`);
  process.exit(1);
}
