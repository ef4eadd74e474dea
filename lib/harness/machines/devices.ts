// The devices a guest machine can give its guests, as data.

/**
 * What a machine gives its guests, by the name guest specs ask for
 * (test/guest/helpers/devices.ts `needs()`), and how a guest shows it. A
 * spec whose device is missing fails on a machine that lists the device and
 * skips, saying why, on one that does not.
 */
export const GUEST_DEVICES = {
  ivshmem: 'an ivshmem-plain device bound to devmap_ivshmem (/dev/ivshmem0)',
  doorbell: "an ivshmem-doorbell device on the machine's ivshmem server, bound to devmap_ivshmem",
  edu: "QEMU's edu device bound to devmap_edu (/dev/edu0)",
  fb0: 'a framebuffer at /dev/fb0',
  fb1: 'a second framebuffer at /dev/fb1',
  fbcon: 'fbcon bound to /dev/fb0 (a text console)',
  clcd: 'the PL111 CLCD driven by devmap_clcd (/dev/fb0)',
  drm: 'a DRM/KMS card with dumb buffers at /dev/dri/cardN (bochs-drm, virtio-gpu)',
  'virtio-gpu': 'a virtio-gpu DRM card (driver virtio_gpu) at one of /dev/dri/cardN',
} as const;

export type GuestDevice = keyof typeof GUEST_DEVICES;
