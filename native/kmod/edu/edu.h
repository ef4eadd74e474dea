/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of devmap_edu shared by its parts: edu_main.c (module, probe,
 * file operations), edu_engine.c (interrupt, DMA engine, factorial unit)
 * and edu_buf.c (coherent DMA buffers and their mappings). The user-space
 * ABI is devmap_edu.h.
 */
#ifndef DEVMAP_EDU_INTERNAL_H
#define DEVMAP_EDU_INTERNAL_H

#include <linux/completion.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/interrupt.h>
#include <linux/iopoll.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "devmap_edu.h"
#include "edu_compat.h"

#define DRV_NAME "devmap_edu"

/* BAR0 registers (QEMU hw/misc/edu.c). */
#define EDU_REG_IDENT		0x00
#define EDU_REG_LIVENESS	0x04
#define EDU_REG_FACTORIAL	0x08
#define EDU_REG_STATUS		0x20
#define EDU_REG_IRQ_STATUS	0x24
#define EDU_REG_IRQ_ACK		0x64
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98

#define EDU_STATUS_COMPUTING	0x01
#define EDU_IRQ_DMA		0x100
#define EDU_DMA_RUN		0x1
#define EDU_DMA_TO_RAM		0x2
#define EDU_DMA_IRQ		0x4
#define EDU_DEV_MEM		0x40000	/* device memory, as a DMA address */
#define EDU_FACT_TIMEOUT_US	(10 * USEC_PER_SEC)

/* Driver-wide counters (sysfs stats, EDU_IOC_STATS). */
struct edu_counters {
	atomic64_t allocated, freed, live_bytes, transfers, timeouts, irqs;
};
extern struct edu_counters edu_stats;
struct edu_dev {
	struct kref ref;
	struct mutex lock;		/* device registers, gone, inflight */
	bool gone;			/* removed: refuse everything new */
	struct pci_dev *pdev;
	void __iomem *regs;
	struct miscdevice misc;
	char name[16];
	int id;
	int irq;			/* < 0: polling */
	u32 irq_mode;
	struct completion dma_done;
	struct edu_buf *inflight;	/* buffer of a timed-out transfer */
};

struct edu_buf {
	struct kref ref;
	struct edu_dev *edu;
	void *cpu;
	dma_addr_t dma;
	size_t size;
};

struct edu_file {
	struct edu_dev *edu;
	struct xarray bufs;		/* id -> edu_buf, one reference each */
	u32 next_id;
};

/* edu_main.c */
void edu_dev_put(struct edu_dev *edu);

/* edu_buf.c */
void edu_buf_put(struct edu_buf *buf);
struct edu_buf *edu_buf_get(struct edu_file *ef, unsigned long id);
long edu_alloc(struct edu_file *ef, struct edu_alloc *req);
long edu_free(struct edu_file *ef, unsigned long id);
int edu_mmap(struct file *file, struct vm_area_struct *vma);

/* edu_engine.c */
irqreturn_t edu_irq(int irq, void *data);
int edu_xfer(struct edu_file *ef, const struct edu_xfer *x);
long edu_word(struct edu_dev *edu, unsigned int cmd, struct edu_word *w);

#endif /* DEVMAP_EDU_INTERNAL_H */
