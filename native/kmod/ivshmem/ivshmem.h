/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of devmap_ivshmem shared by its parts: ivshmem_main.c (module,
 * probe, open/mmap/ioctl) and ivshmem_irq.c (MSI-X vectors, read/poll,
 * eventfds). The user-space ABI is devmap_ivshmem.h.
 */
#ifndef DEVMAP_IVSHMEM_INTERNAL_H
#define DEVMAP_IVSHMEM_INTERNAL_H

#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "devmap_ivshmem.h"
#include "ivshmem_compat.h"

#define DRV_NAME "devmap_ivshmem"

struct ivshmem_dev;

struct ivshmem_vector {
	struct ivshmem_dev *idev;
	unsigned int index;
	atomic_t count;			/* interrupts seen, wraps */
	struct eventfd_ctx *efd;	/* under idev->efd_lock */
	struct file *efd_owner;
};

struct ivshmem_dev {
	struct kref ref;
	struct mutex lock;		/* ioctls, mmap, gone, files */
	bool gone;			/* removed: revoke everything */
	struct pci_dev *pdev;
	struct miscdevice misc;
	char name[24];
	int id;
	void __iomem *regs;		/* BAR0 */
	phys_addr_t shm_start;		/* BAR2 */
	resource_size_t shm_size;
	unsigned int nvec;
	wait_queue_head_t wait;
	spinlock_t efd_lock;
	struct list_head files;
	struct ivshmem_vector vec[IVSHMEM_MAX_VECTORS];
};

struct ivshmem_file {
	struct ivshmem_dev *idev;
	struct file *file;
	struct list_head node;
	u32 cache;
	u32 granted;			/* cache mode of the last mmap() */
	bool cancelled;
	int seen[IVSHMEM_MAX_VECTORS];
};

/* ivshmem_irq.c */
ssize_t ivshmem_read(struct file *file, char __user *buf, size_t count, loff_t *ppos);
__poll_t ivshmem_poll(struct file *file, poll_table *wait);
int ivshmem_set_eventfd(struct ivshmem_file *f, struct ivshmem_eventfd *req);
int ivshmem_setup_irqs(struct ivshmem_dev *idev);
void ivshmem_free_irqs(struct ivshmem_dev *idev);

#endif /* DEVMAP_IVSHMEM_INTERNAL_H */
