// Debian suites a guest kernel comes from, as data. The suite picks the
// kernel (and the compiler its modules are built with, in a build root of
// that suite); the rest of the guest does not change with it.
import { devmapError } from '../../errors.js';

export type SuiteName = 'bookworm' | 'trixie' | 'sid';

export interface Suite {
  name: SuiteName;
  /** What people call it. */
  title: string;
  /** The kernel series it carries today, for help texts (the lock file has the exact one). */
  kernel: string;
  /** The archive carries <name>-updates and <name>-security beside it. */
  stable: boolean;
}

export const SUITES: Record<SuiteName, Suite> = {
  bookworm: { name: 'bookworm', title: 'Debian 12', kernel: '6.1', stable: true },
  trixie: { name: 'trixie', title: 'Debian 13', kernel: '6.12', stable: true },
  sid: { name: 'sid', title: 'Debian unstable', kernel: 'the newest (7.x)', stable: false },
};

/** Debian's current stable: the kernel guests get unless told otherwise (--kernel, DEVMAP_KERNEL). */
export const DEFAULT_SUITE: SuiteName = 'trixie';

/**
 * Where guests that take Node from Debian (every arch but the host's) get
 * it, whatever their kernel's suite: the first suite with Node >= 20.19.
 */
export const USERLAND_SUITE: SuiteName = 'trixie';

export const suiteNames = (): SuiteName[] => Object.keys(SUITES) as SuiteName[];

/** The suite called `name` (default: $DEVMAP_KERNEL, else trixie); an unknown one is an error listing the valid ones. */
export function findSuite(name: string | undefined = process.env.DEVMAP_KERNEL || undefined): Suite {
  const s = SUITES[(name ?? DEFAULT_SUITE) as SuiteName];
  if (!s) {
    const valid = suiteNames().map((n) => `${n} (${SUITES[n].title}, ${SUITES[n].kernel})`).join(', ');
    throw devmapError('ERR_DEVMAP_SUITE', `no kernel suite "${name}"; use one of: ${valid}`);
  }
  return s;
}
