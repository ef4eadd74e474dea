// The demo's message format in ivshmem: "DVMP", a little-endian u32 length,
// then UTF-8 text. Host and guest both read it with bounds checks.
/** The guest's one line of results on its console. */
export const SUMMARY_PREFIX = 'devmap-demo-summary ';

/** The devmap.host operation the guest asks while its picture is up: the host saves the screen. */
export const SAVE_SCREEN_OP = 'demo-save-screen';

const MAGIC = 0x504d5644; // "DVMP"

/** Where the host's message and the guest's reply live in the shared memory. */
export const HOST_MESSAGE_AT = 0x1000;
export const GUEST_REPLY_AT = 0x2000;
const MAX = 0x1000 - 8;

export function writeMessage(bytes: Uint8Array, at: number, text: string): void {
  const body = Buffer.from(text, 'utf8').subarray(0, MAX);
  const head = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  bytes.set(body, at + 8);
  head.setUint32(4, body.length, true);
  head.setUint32(0, MAGIC, true); // last: the message is complete once this is set
}

/** The message at `at`, or undefined if there is none (or it is malformed). */
export function readMessage(bytes: Uint8Array, at: number): string | undefined {
  if (at + 8 > bytes.length) return undefined;
  const head = new DataView(bytes.buffer, bytes.byteOffset + at, 8);
  const len = head.getUint32(4, true);
  if (head.getUint32(0, true) !== MAGIC || len > MAX || at + 8 + len > bytes.length) return undefined;
  return Buffer.from(bytes.subarray(at + 8, at + 8 + len)).toString('utf8');
}
