// The shared-memory layout both sides of the examples agree on: two
// one-way channels (devmap's Channel: a single-producer/single-consumer ring
// in shared memory) and, for guest <-> guest, a rendezvous area where each
// guest leaves its doorbell peer id.
export const CHANNEL_BYTES = 64 * 1024;
/** Channel regions: index * CHANNEL_BYTES. */
export const TO_GUEST = 0; // host -> guest, or guest A -> guest B
export const FROM_GUEST = 1; // guest -> host, or guest B -> guest A
/** Int32 slots at this offset: [0] A's peer id + 1, [1] B's peer id + 1. */
export const RENDEZVOUS = 2 * CHANNEL_BYTES;

export const region = (bytes, i) => bytes.subarray(i * CHANNEL_BYTES, (i + 1) * CHANNEL_BYTES);

/** Attaches to a channel the other side formats, waiting up to `ms` for it to appear. */
export async function attachWhenReady(Channel, bytes, role, wake, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return Channel.attach(bytes, role, wake);
    } catch (err) {
      if (err.code !== 'ERR_DEVMAP_CHANNEL_CORRUPT' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
