/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * User-space ABI of the devmap edu driver (/dev/eduN, QEMU's edu device),
 * shared by the driver and the C smoke test, and mirrored in TypeScript by
 * lib/edu/abi.ts (test/host/abi.test.ts compiles this header and checks that
 * the two agree). Every struct has fixed-width fields and no implicit
 * padding, so 32- and 64-bit user space see the same layout.
 *
 * Buffers: EDU_IOC_ALLOC returns an id and an mmap offset (id << 24); mmap
 * that offset (plus whole pages into the buffer) with MAP_SHARED. A buffer
 * lives until it is freed (EDU_IOC_FREE or close) *and* its last mapping is
 * gone.
 *
 * Transfers: write() one struct edu_xfer, or EDU_IOC_DMA with it; both block
 * until the device has finished (about 100 ms under QEMU) and fail with
 * EINVAL (bad range or direction), ENOENT (no such buffer), EBUSY (the engine
 * is still running a transfer that timed out earlier), ETIMEDOUT or ENODEV
 * (device removed). write() exists so that Node can run a transfer on libuv's
 * thread pool with fs.write() without blocking its event loop.
 */
#ifndef DEVMAP_EDU_H
#define DEVMAP_EDU_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define EDU_IOC_MAGIC		0xd8

/* The device's DMA buffer is 4096 bytes, but QEMU 7.2 aborts the whole VM on
 * a transfer touching its last byte: only [0, 4095) is usable. */
#define EDU_DEV_WINDOW		4095
#define EDU_BUF_MAX		(4u << 20)	/* largest buffer (MAX_ORDER) */
#define EDU_OFF_SHIFT		24		/* mmap offset = id << 24 */
#define EDU_MAX_BUFFERS		65535		/* per open file */
#define EDU_TIMEOUT_DEFAULT_MS	1000
#define EDU_TIMEOUT_MAX_MS	60000

#define EDU_IRQ_POLL		0	/* no interrupt: the command reg is polled */
#define EDU_IRQ_INTX		1
#define EDU_IRQ_MSI		2

#define EDU_TO_DEVICE		0	/* buffer -> device memory */
#define EDU_FROM_DEVICE		1	/* device memory -> buffer */

struct edu_info {
	__u32 ident;		/* identification register: 0xRRrr00ed */
	__u32 irq_mode;		/* EDU_IRQ_* */
	__u64 dma_mask;		/* the mask the driver set (dma_bits, default 28) */
	__u32 window;		/* EDU_DEV_WINDOW */
	__u32 buf_max;		/* EDU_BUF_MAX */
};

struct edu_alloc {
	__u64 size;		/* in: bytes; out: rounded up to pages */
	__u64 offset;		/* out: mmap offset */
	__u64 dma_addr;		/* out: bus address the device uses */
	__u32 id;		/* out */
	__u32 pad;
};

struct edu_xfer {
	__u32 id;		/* buffer */
	__u32 dir;		/* EDU_TO_DEVICE or EDU_FROM_DEVICE */
	__u64 offset;		/* into the buffer */
	__u32 length;		/* bytes, >= 1 */
	__u32 dev_offset;	/* into the device memory */
	__u32 timeout_ms;	/* 0: EDU_TIMEOUT_DEFAULT_MS */
	__u32 pad;
};

/* Driver-wide (all devices, all files) since the module was loaded. */
struct edu_stats {
	__u64 allocated;	/* buffers */
	__u64 freed;		/* buffers */
	__u64 live_bytes;
	__u64 transfers;	/* completed */
	__u64 timeouts;
	__u64 irqs;		/* DMA completion interrupts handled */
};

struct edu_word {
	__u32 in;
	__u32 out;
};

#define EDU_IOC_INFO		_IOR(EDU_IOC_MAGIC, 0, struct edu_info)
#define EDU_IOC_ALLOC		_IOWR(EDU_IOC_MAGIC, 1, struct edu_alloc)
/* arg: the buffer id, by value; its mappings stay valid until unmapped */
#define EDU_IOC_FREE		_IO(EDU_IOC_MAGIC, 2)
#define EDU_IOC_DMA		_IOW(EDU_IOC_MAGIC, 3, struct edu_xfer)
#define EDU_IOC_STATS		_IOR(EDU_IOC_MAGIC, 4, struct edu_stats)
/* in: n, out: n! modulo 2^32 as the device computes it */
#define EDU_IOC_FACTORIAL	_IOWR(EDU_IOC_MAGIC, 5, struct edu_word)
/* in: x, out: the liveness register's answer, ~x on a live card */
#define EDU_IOC_LIVENESS	_IOWR(EDU_IOC_MAGIC, 6, struct edu_word)

#endif /* DEVMAP_EDU_H */
