// Whether tests that make build roots (mmdebstrap) can run here: they need
// root and the Debian archive the host's apt names.
import { hostArchive } from '../../lib/harness/image/apt.js';

/** A HEAD of trixie's InRelease on the host's archive answered, within 15 s. */
export async function archiveReachable(): Promise<boolean> {
  try {
    const r = await fetch(`${hostArchive().archive}/dists/trixie/InRelease`, { method: 'HEAD', signal: AbortSignal.timeout(15_000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Why a build-root test cannot run here, or '' when it can. */
export async function buildRootSkip(): Promise<string> {
  if (process.getuid?.() !== 0) return 'needs root (mmdebstrap, mount, chroot)';
  return (await archiveReachable()) ? '' : "the host's Debian archive is not reachable";
}
