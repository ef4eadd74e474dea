// Cleanup on every exit path: normal exit, thrown errors, Ctrl-C, SIGTERM.
// Each guest registers a synchronous undo (kill QEMU, delete its sockets and
// /dev/shm file); the signal handlers run them all and exit the way the
// signal would have.
const pending = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const fn of [...pending]) {
    pending.delete(fn);
    try {
      fn();
    } catch {
      // Best effort: one failed undo must not keep the others from running.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const [sig, num] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const) {
    process.on(sig, () => {
      runAll();
      process.exit(128 + num);
    });
  }
}

/** Registers `fn` to run once at exit or signal; returns its unregister. */
export function onCleanup(fn: () => void): () => void {
  install();
  pending.add(fn);
  return () => {
    pending.delete(fn);
  };
}
