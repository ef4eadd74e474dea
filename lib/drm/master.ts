// DRM master: the one open file of a card allowed to set modes. The first
// opener of a card with no master becomes master; SET_MASTER asks again
// after a DROP_MASTER. Who holds it, when it is not us, is in debugfs's
// clients list (when debugfs is mounted and readable).
import { devmapError, isSystemError } from '../errors.js';

/** The master clients of a debugfs `clients` file ("command pid dev master a uid magic"). */
export function masterHolders(clients: string | undefined): string[] {
  if (!clients) return [];
  const rows = clients.split('\n').map((l) => l.trim().split(/\s+/));
  const head = rows[0] ?? [];
  const [c, p, m] = ['command', 'pid', 'master'].map((k) => head.indexOf(k));
  if (c! < 0 || p! < 0 || m! < 0) return [];
  return rows.slice(1).filter((r) => r[m!] === 'y').map((r) => `${r[c!]} (pid ${r[p!]})`);
}

/** The error for a modeset refused because another client is master (EACCES, EBUSY, EINVAL or EPERM from the kernel). */
export function notMaster(err: unknown, path: string, what: string, clients: string | undefined): unknown {
  if (!isSystemError(err) || !['EACCES', 'EBUSY', 'EINVAL', 'EPERM'].includes(err.code)) return err;
  const holders = masterHolders(clients).filter((h) => !h.includes(`pid ${process.pid})`));
  const who = holders.length
    ? `${holders.join(', ')} holds it`
    : 'another client holds it (debugfs /sys/kernel/debug/dri/N/clients names it when mounted)';
  const e = devmapError('ERR_DEVMAP_NOT_MASTER', `${what} on ${path} needs DRM master and ${who}: stop that client (a display server, another devmap), or have it drop master, then retry`);
  return Object.assign(e, { cause: err, errno: err.errno, syscall: err.syscall, path });
}
