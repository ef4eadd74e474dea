/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * User-space ABI of the devmap ivshmem driver (/dev/ivshmemN), shared by the
 * driver and the C smoke test, and mirrored in TypeScript by lib/ivshmem/abi.ts
 * (test/host/abi.test.ts compiles this header and checks that the two agree).
 * Every struct has fixed-width fields and no implicit padding so 32- and
 * 64-bit user space see the same layout.
 */
#ifndef DEVMAP_IVSHMEM_H
#define DEVMAP_IVSHMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Private to /dev/ivshmemN: the ioctls are only ever issued on this node. */
#define IVSHMEM_IOC_MAGIC	0xd7

/* Cache attribute of the next mmap() on this open file. */
#define IVSHMEM_CACHE_WB	0	/* write-back (default: BAR2 is host RAM) */
#define IVSHMEM_CACHE_UC	1	/* uncached */
#define IVSHMEM_CACHE_WC	2	/* write-combining */
#define IVSHMEM_CACHE_NONE	0xffffffff	/* granted: nothing mapped yet */

#define IVSHMEM_VARIANT_PLAIN		0	/* no MSI-X: shared memory only */
#define IVSHMEM_VARIANT_DOORBELL	1	/* MSI-X: doorbell interrupts */

/* Registers in BAR0 (QEMU docs/specs/ivshmem-spec.rst). */
#define IVSHMEM_REG_INTRMASK	0x00
#define IVSHMEM_REG_INTRSTATUS	0x04
#define IVSHMEM_REG_IVPOSITION	0x08	/* read-only */
#define IVSHMEM_REG_DOORBELL	0x0c	/* write-only: peer << 16 | vector */

/* Interrupt delivery: read() returns one __u64, a bit per vector that fired. */
#define IVSHMEM_MAX_VECTORS	64

struct ivshmem_info {
	__u64 size;		/* BAR2 (shared memory) bytes */
	__u32 ivposition;	/* IVPosition register: own peer ID */
	__u32 vectors;		/* MSI-X vectors in use, 0 for plain */
	__u32 variant;		/* IVSHMEM_VARIANT_* */
	__u32 cache;		/* this file's IVSHMEM_CACHE_*, for the next mmap */
	__u32 granted;		/* what the last mmap() really got (x86 PAT) */
	__u32 reserved;
};

struct ivshmem_reg {
	__u32 offset;		/* IVSHMEM_REG_* */
	__u32 value;
};

struct ivshmem_eventfd {
	__u32 vector;
	__s32 fd;		/* an eventfd to signal, or -1 to detach */
};

#define IVSHMEM_IOC_INFO	_IOR(IVSHMEM_IOC_MAGIC, 0, struct ivshmem_info)
#define IVSHMEM_IOC_SET_CACHE	_IOW(IVSHMEM_IOC_MAGIC, 1, __u32)
#define IVSHMEM_IOC_REG_READ	_IOWR(IVSHMEM_IOC_MAGIC, 2, struct ivshmem_reg)
#define IVSHMEM_IOC_REG_WRITE	_IOW(IVSHMEM_IOC_MAGIC, 3, struct ivshmem_reg)
#define IVSHMEM_IOC_RING	_IOW(IVSHMEM_IOC_MAGIC, 4, __u32)
#define IVSHMEM_IOC_SET_EVENTFD	_IOW(IVSHMEM_IOC_MAGIC, 5, struct ivshmem_eventfd)
/* Wakes this file's blocked read()s; they, and later ones, return 0 (EOF). */
#define IVSHMEM_IOC_CANCEL	_IO(IVSHMEM_IOC_MAGIC, 6)

#endif /* DEVMAP_IVSHMEM_H */
