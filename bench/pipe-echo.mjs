// The pipe baseline of the ping-pong benchmarks (bench/doorbell.mjs in a
// guest, bench/channel.mjs on the host): a second Node process that echoes
// what it reads on stdin, with the event loop at both ends.
import { spawn } from 'node:child_process';

/** Starts the echo process; `trip(msg)` resolves when all of `msg` came back; `close()` ends it. */
export function pipeEcho() {
  const child = spawn(process.execPath, ['-e', 'process.stdin.on("data", (d) => process.stdout.write(d))'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let pending = 0;
  let back = () => {};
  child.stdout.on('data', (d) => {
    pending -= d.length;
    if (pending === 0) back();
  });
  return {
    trip: (msg) => new Promise((resolve) => {
      [back, pending] = [resolve, msg.length];
      child.stdin.write(msg);
    }),
    close: () => child.kill(),
  };
}
