// SPDX-License-Identifier: GPL-2.0
/*
 * devmap edu: a PCI driver for QEMU's educational device (1234:11e8, QEMU
 * docs/specs/edu.rst) that gives each device a /dev/eduN node. Each open
 * file allocates coherent DMA buffers (dma_alloc_coherent), maps them to user
 * space (dma_mmap_coherent) and runs the device's DMA engine between a buffer
 * and the device's own 4 KiB memory; the factorial and liveness registers are
 * exposed too. The ABI is in devmap_edu.h.
 *
 * Lifetime: a buffer is reference counted -- one reference from its file's
 * table (dropped by EDU_IOC_FREE or close), one per VMA (vm_ops open/close),
 * one while the engine may still write to it -- so memory user space still
 * maps is never handed back. The device state is reference counted too (the
 * bound device, each file, each buffer), so unbinding while files are open is
 * safe: later operations get -ENODEV, existing mappings stay valid until
 * unmapped. rmmod is refused while a file is open or mapped (a mapping holds
 * its file, the file holds the module through the fops owner).
 */
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

static bool poll;
module_param(poll, bool, 0444);
MODULE_PARM_DESC(poll, "Poll for DMA completion instead of using MSI/INTx");

/*
 * QEMU's edu clamps DMA addresses to its dma_mask property: 28 bits unless
 * started with -device edu,dma_mask=... (ARM's virt board has no RAM below
 * 1 GiB, so it needs 32). At most 32: the driver writes the low halves of
 * the address registers.
 */
static unsigned int dma_bits = 28;

static int dma_bits_set(const char *val, const struct kernel_param *kp)
{
	unsigned int bits;
	int err = kstrtouint(val, 0, &bits);

	if (err)
		return err;
	if (bits < 24 || bits > 32)
		return -EINVAL;
	return param_set_uint(val, kp);
}

static const struct kernel_param_ops dma_bits_ops = {
	.set = dma_bits_set,
	.get = param_get_uint,
};
module_param_cb(dma_bits, &dma_bits_ops, &dma_bits, 0444);
MODULE_PARM_DESC(dma_bits, "DMA address bits of the device (24-32, default 28; match QEMU's edu dma_mask)");

static struct {
	atomic64_t allocated, freed, live_bytes, transfers, timeouts, irqs;
} edu_stats;

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

static DEFINE_IDA(edu_ida);

static void edu_dev_release(struct kref *ref)
{
	struct edu_dev *edu = container_of(ref, struct edu_dev, ref);

	pci_dev_put(edu->pdev);
	kfree(edu);
}

static void edu_dev_put(struct edu_dev *edu)
{
	kref_put(&edu->ref, edu_dev_release);
}

static void edu_buf_release(struct kref *ref)
{
	struct edu_buf *buf = container_of(ref, struct edu_buf, ref);
	struct edu_dev *edu = buf->edu;

	dma_free_coherent(&edu->pdev->dev, buf->size, buf->cpu, buf->dma);
	atomic64_inc(&edu_stats.freed);
	atomic64_sub(buf->size, &edu_stats.live_bytes);
	kfree(buf);
	edu_dev_put(edu);
}

static void edu_buf_put(struct edu_buf *buf)
{
	kref_put(&buf->ref, edu_buf_release);
}

/* A reference to buffer @id of this file, or NULL. */
static struct edu_buf *edu_buf_get(struct edu_file *ef, unsigned long id)
{
	struct edu_buf *buf;

	xa_lock(&ef->bufs);
	buf = xa_load(&ef->bufs, id);
	if (buf)
		kref_get(&buf->ref);
	xa_unlock(&ef->bufs);
	return buf;
}

static irqreturn_t edu_irq(int irq, void *data)
{
	struct edu_dev *edu = data;
	u32 status = readl(edu->regs + EDU_REG_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;	/* INTx may be shared */
	/* Even with MSI the device keeps raising until acknowledged. */
	writel(status, edu->regs + EDU_REG_IRQ_ACK);
	if (status & EDU_IRQ_DMA) {
		atomic64_inc(&edu_stats.irqs);
		complete(&edu->dma_done);
	}
	return IRQ_HANDLED;
}

static bool edu_dma_running(struct edu_dev *edu)
{
	return readl(edu->regs + EDU_REG_DMA_CMD) & EDU_DMA_RUN;
}

/*
 * Called with edu->lock held before starting a transfer. A transfer that
 * timed out may still be running and writing into its buffer: refuse with
 * -EBUSY until it is done, then let go of that buffer.
 */
static int edu_engine_claim(struct edu_dev *edu)
{
	if (edu_dma_running(edu))
		return -EBUSY;
	if (edu->inflight) {
		edu_buf_put(edu->inflight);
		edu->inflight = NULL;
	}
	return 0;
}

/*
 * The register, not the completion, is the truth: a late interrupt from a
 * transfer that timed out earlier may have completed dma_done already.
 */
static int edu_dma_wait(struct edu_dev *edu, unsigned int timeout_ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);

	for (;;) {
		if (!edu_dma_running(edu))
			return 0;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		if (edu->irq >= 0)
			wait_for_completion_timeout(&edu->dma_done,
						    max_t(long, deadline - jiffies, 1));
		else
			usleep_range(500, 1000);
	}
}

static int edu_xfer_check(struct edu_dev *edu, const struct edu_xfer *x)
{
	if (x->dir != EDU_TO_DEVICE && x->dir != EDU_FROM_DEVICE)
		return -EINVAL;
	if (!x->length || x->dev_offset >= EDU_DEV_WINDOW ||
	    x->length > EDU_DEV_WINDOW - x->dev_offset) {
		dev_dbg(&edu->pdev->dev, "device range %u+%u outside [0, %u)\n",
			x->dev_offset, x->length, EDU_DEV_WINDOW);
		return -EINVAL;
	}
	if (x->timeout_ms > EDU_TIMEOUT_MAX_MS)
		return -EINVAL;
	return 0;
}

static int edu_xfer(struct edu_file *ef, const struct edu_xfer *x)
{
	struct edu_dev *edu = ef->edu;
	struct edu_buf *buf;
	dma_addr_t addr, dev = EDU_DEV_MEM + x->dev_offset;
	u32 cmd = EDU_DMA_RUN;
	int err;

	err = edu_xfer_check(edu, x);
	if (err)
		return err;
	buf = edu_buf_get(ef, x->id);
	if (!buf)
		return -ENOENT;
	err = -EINVAL;
	if (x->offset > buf->size || x->length > buf->size - x->offset)
		goto out_put;
	addr = buf->dma + x->offset;

	err = mutex_lock_interruptible(&edu->lock);
	if (err)
		goto out_put;
	err = -ENODEV;
	if (edu->gone)
		goto out_unlock;
	err = edu_engine_claim(edu);
	if (err)
		goto out_unlock;

	reinit_completion(&edu->dma_done);
	if (x->dir == EDU_FROM_DEVICE) {
		swap(addr, dev);
		cmd |= EDU_DMA_TO_RAM;
	}
	if (edu->irq >= 0)
		cmd |= EDU_DMA_IRQ;
	/*
	 * The registers are 64-bit, but a 32-bit write at their offset sets the
	 * whole value, and the mask (dma_bits <= 32) keeps every address below
	 * 2^32: writel is enough, also on 32-bit kernels.
	 */
	writel(lower_32_bits(addr), edu->regs + EDU_REG_DMA_SRC);
	writel(lower_32_bits(dev), edu->regs + EDU_REG_DMA_DST);
	writel(x->length, edu->regs + EDU_REG_DMA_COUNT);
	/* writel orders the CPU's writes to the buffer before the start. */
	writel(cmd, edu->regs + EDU_REG_DMA_CMD);

	err = edu_dma_wait(edu, x->timeout_ms ?: EDU_TIMEOUT_DEFAULT_MS);
	if (err == -ETIMEDOUT) {
		/* The engine still owns the buffer: keep our reference. */
		atomic64_inc(&edu_stats.timeouts);
		dev_err(&edu->pdev->dev, "DMA of %u bytes timed out\n", x->length);
		edu->inflight = buf;
		buf = NULL;
	} else {
		atomic64_inc(&edu_stats.transfers);
	}
out_unlock:
	mutex_unlock(&edu->lock);
out_put:
	if (buf)
		edu_buf_put(buf);
	return err;
}

static long edu_alloc(struct edu_file *ef, struct edu_alloc *req)
{
	struct edu_dev *edu = ef->edu;
	struct edu_buf *buf;
	u32 id;
	int err;

	if (!req->size || req->size > EDU_BUF_MAX)
		return -EINVAL;
	buf = kzalloc(sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	kref_init(&buf->ref);
	buf->size = PAGE_ALIGN(req->size);

	mutex_lock(&edu->lock);
	err = -ENODEV;
	if (edu->gone)
		goto err_unlock;
	/* Zeroed: these pages go to user space. */
	buf->cpu = dma_alloc_coherent(&edu->pdev->dev, buf->size, &buf->dma,
				      GFP_KERNEL);
	err = -ENOMEM;
	if (!buf->cpu)
		goto err_unlock;
	err = xa_alloc_cyclic(&ef->bufs, &id, buf, XA_LIMIT(1, EDU_MAX_BUFFERS),
			      &ef->next_id, GFP_KERNEL);
	if (err < 0)
		goto err_dma;
	buf->edu = edu;
	kref_get(&edu->ref);
	mutex_unlock(&edu->lock);

	atomic64_inc(&edu_stats.allocated);
	atomic64_add(buf->size, &edu_stats.live_bytes);
	req->size = buf->size;
	req->id = id;
	req->offset = (u64)id << EDU_OFF_SHIFT;
	req->dma_addr = buf->dma;
	dev_dbg(&edu->pdev->dev, "buffer %u: %zu bytes at %pad\n", id,
		buf->size, &buf->dma);
	return 0;

err_dma:
	dma_free_coherent(&edu->pdev->dev, buf->size, buf->cpu, buf->dma);
err_unlock:
	mutex_unlock(&edu->lock);
	kfree(buf);
	return err;
}

static long edu_free(struct edu_file *ef, unsigned long id)
{
	struct edu_buf *buf = xa_erase(&ef->bufs, id);

	if (!buf)
		return -ENOENT;
	edu_buf_put(buf);
	return 0;
}

static long edu_word(struct edu_dev *edu, unsigned int cmd, struct edu_word *w)
{
	u32 status;
	int err;

	err = mutex_lock_interruptible(&edu->lock);
	if (err)
		return err;
	err = -ENODEV;
	if (edu->gone)
		goto out;
	if (cmd == EDU_IOC_LIVENESS) {
		writel(w->in, edu->regs + EDU_REG_LIVENESS);
		w->out = readl(edu->regs + EDU_REG_LIVENESS);
		err = 0;
		goto out;
	}
	/* The device ignores a new value while it is still computing. */
	err = -EBUSY;
	if (readl(edu->regs + EDU_REG_STATUS) & EDU_STATUS_COMPUTING)
		goto out;
	writel(w->in, edu->regs + EDU_REG_FACTORIAL);
	/* QEMU's worker thread loops n times: large n takes a while. */
	err = readl_poll_timeout(edu->regs + EDU_REG_STATUS, status,
				 !(status & EDU_STATUS_COMPUTING), 10,
				 EDU_FACT_TIMEOUT_US);
	if (!err)
		w->out = readl(edu->regs + EDU_REG_FACTORIAL);
out:
	mutex_unlock(&edu->lock);
	return err;
}

static long edu_info(struct edu_dev *edu, struct edu_info *info)
{
	long err = -ENODEV;

	mutex_lock(&edu->lock);
	if (!edu->gone) {
		info->ident = readl(edu->regs + EDU_REG_IDENT);
		info->irq_mode = edu->irq_mode;
		info->dma_mask = edu->pdev->dev.coherent_dma_mask;
		info->window = EDU_DEV_WINDOW;
		info->buf_max = EDU_BUF_MAX;
		err = 0;
	}
	mutex_unlock(&edu->lock);
	return err;
}

static void edu_stats_read(struct edu_stats *s)
{
	s->allocated = atomic64_read(&edu_stats.allocated);
	s->freed = atomic64_read(&edu_stats.freed);
	s->live_bytes = atomic64_read(&edu_stats.live_bytes);
	s->transfers = atomic64_read(&edu_stats.transfers);
	s->timeouts = atomic64_read(&edu_stats.timeouts);
	s->irqs = atomic64_read(&edu_stats.irqs);
}

/*
 * User memory is copied with no lock held: a fault in copy_*_user takes
 * mmap_lock, which mmap() holds while it looks up buffers.
 */
static long edu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct edu_file *ef = file->private_data;
	struct edu_dev *edu = ef->edu;
	void __user *argp = (void __user *)arg;
	union {
		struct edu_info info;
		struct edu_alloc alloc;
		struct edu_xfer xfer;
		struct edu_stats stats;
		struct edu_word word;
	} u;
	long err;

	if (_IOC_TYPE(cmd) != EDU_IOC_MAGIC || _IOC_SIZE(cmd) > sizeof(u))
		return -ENOTTY;
	memset(&u, 0, sizeof(u));
	if ((_IOC_DIR(cmd) & _IOC_WRITE) &&
	    copy_from_user(&u, argp, _IOC_SIZE(cmd)))
		return -EFAULT;

	switch (cmd) {
	case EDU_IOC_INFO:
		err = edu_info(edu, &u.info);
		break;
	case EDU_IOC_ALLOC:
		err = edu_alloc(ef, &u.alloc);
		break;
	case EDU_IOC_FREE:
		return edu_free(ef, arg);
	case EDU_IOC_DMA:
		return edu_xfer(ef, &u.xfer);
	case EDU_IOC_STATS:
		edu_stats_read(&u.stats);
		err = 0;
		break;
	case EDU_IOC_FACTORIAL:
	case EDU_IOC_LIVENESS:
		err = edu_word(edu, cmd, &u.word);
		break;
	default:
		return -ENOTTY;
	}
	if (err)
		return err;
	if ((_IOC_DIR(cmd) & _IOC_READ) &&
	    copy_to_user(argp, &u, _IOC_SIZE(cmd))) {
		if (cmd == EDU_IOC_ALLOC)
			edu_free(ef, u.alloc.id);
		return -EFAULT;
	}
	return 0;
}

/* One struct edu_xfer per write(); returns when the transfer is done. */
static ssize_t edu_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	struct edu_xfer x;
	int err;

	if (len != sizeof(x))
		return -EINVAL;
	if (copy_from_user(&x, ubuf, sizeof(x)))
		return -EFAULT;
	err = edu_xfer(file->private_data, &x);
	return err ? err : sizeof(x);
}

static void edu_vm_open(struct vm_area_struct *vma)
{
	struct edu_buf *buf = vma->vm_private_data;

	kref_get(&buf->ref);	/* fork, or a split by a partial munmap */
}

static void edu_vm_close(struct vm_area_struct *vma)
{
	edu_buf_put(vma->vm_private_data);
}

static const struct vm_operations_struct edu_vm_ops = {
	.open = edu_vm_open,
	.close = edu_vm_close,
};

static int edu_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct edu_file *ef = file->private_data;
	struct edu_dev *edu = ef->edu;
	const unsigned long shift = EDU_OFF_SHIFT - PAGE_SHIFT;
	unsigned long id = vma->vm_pgoff >> shift;
	unsigned long pgoff = vma->vm_pgoff & ((1UL << shift) - 1);
	unsigned long pages = vma_pages(vma);
	struct edu_buf *buf;
	int err;

	/* A private (copy-on-write) mapping of DMA memory makes no sense. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (READ_ONCE(edu->gone))
		return -ENODEV;
	buf = edu_buf_get(ef, id);
	if (!buf)
		return -EINVAL;
	err = -EINVAL;
	if (pgoff >= buf->size >> PAGE_SHIFT ||
	    pages > (buf->size >> PAGE_SHIFT) - pgoff)
		goto err_put;
	/* dma_mmap_coherent() reads vm_pgoff as the page offset in the buffer. */
	vma->vm_pgoff = pgoff;
	err = dma_mmap_coherent(&edu->pdev->dev, vma, buf->cpu, buf->dma,
				buf->size);
	if (err)
		goto err_put;
	vma->vm_private_data = buf;	/* the VMA owns our reference */
	vma->vm_ops = &edu_vm_ops;
	return 0;

err_put:
	edu_buf_put(buf);
	return err;
}

static int edu_open(struct inode *inode, struct file *file)
{
	/* misc_open() holds misc_mtx: remove() cannot run concurrently. */
	struct edu_dev *edu = container_of(file->private_data, struct edu_dev,
					   misc);
	struct edu_file *ef;

	ef = kzalloc(sizeof(*ef), GFP_KERNEL);
	if (!ef)
		return -ENOMEM;
	xa_init_flags(&ef->bufs, XA_FLAGS_ALLOC1);
	ef->edu = edu;
	kref_get(&edu->ref);
	file->private_data = ef;
	/*
	 * Buffer cookies (id << 24) pass 4 GiB from id 256 on; a 32-bit kernel
	 * refuses such an offset on a char device (EOVERFLOW) unless the file
	 * says its offsets are unsigned cookies, as DRM's fake offsets do.
	 */
	file->f_mode |= FMODE_UNSIGNED_OFFSET;
	return 0;
}

static int edu_release(struct inode *inode, struct file *file)
{
	struct edu_file *ef = file->private_data;
	struct edu_buf *buf;
	unsigned long id;

	/* Mappings hold the file, so no buffer of this file is mapped now. */
	xa_for_each(&ef->bufs, id, buf) {
		xa_erase(&ef->bufs, id);
		edu_buf_put(buf);
	}
	xa_destroy(&ef->bufs);
	edu_dev_put(ef->edu);
	kfree(ef);
	return 0;
}

static const struct file_operations edu_fops = {
	.owner = THIS_MODULE,
	.open = edu_open,
	.release = edu_release,
	.unlocked_ioctl = edu_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.write = edu_write,
	.mmap = edu_mmap,
	.llseek = noop_llseek,
};

static int edu_setup_irq(struct edu_dev *edu)
{
	struct pci_dev *pdev = edu->pdev;
	int err;

	edu->irq = -1;
	edu->irq_mode = EDU_IRQ_POLL;
	if (poll)
		return 0;
	err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_LEGACY);
	if (err < 0) {
		dev_warn(&pdev->dev, "no interrupt (%d): polling\n", err);
		return 0;
	}
	err = request_irq(pci_irq_vector(pdev, 0), edu_irq, IRQF_SHARED,
			  edu->name, edu);
	if (err) {
		pci_free_irq_vectors(pdev);
		return err;
	}
	edu->irq = pci_irq_vector(pdev, 0);
	edu->irq_mode = pdev->msi_enabled ? EDU_IRQ_MSI : EDU_IRQ_INTX;
	return 0;
}

static int edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct edu_dev *edu;
	u32 ident;
	int err;

	edu = kzalloc(sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	kref_init(&edu->ref);
	mutex_init(&edu->lock);
	init_completion(&edu->dma_done);
	edu->pdev = pci_dev_get(pdev);

	err = ida_alloc(&edu_ida, GFP_KERNEL);
	if (err < 0)
		goto err_put;
	edu->id = err;
	snprintf(edu->name, sizeof(edu->name), "edu%d", edu->id);

	err = pci_enable_device(pdev);
	if (err)
		goto err_ida;
	err = pci_request_regions(pdev, DRV_NAME);
	if (err)
		goto err_disable;
	err = -ENOMEM;
	edu->regs = pci_iomap(pdev, 0, 0);
	if (!edu->regs)
		goto err_regions;
	ident = readl(edu->regs + EDU_REG_IDENT);
	err = -ENODEV;
	if ((ident & 0xff) != 0xed) {
		dev_err(&pdev->dev, "not an edu device (ident %#x)\n", ident);
		goto err_iounmap;
	}
	/* The device drives dma_bits address bits; QEMU silently clamps more. */
	err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(dma_bits));
	if (err) {
		dev_err(&pdev->dev, "no usable %u-bit DMA\n", dma_bits);
		goto err_iounmap;
	}
	pci_set_master(pdev);
	err = edu_setup_irq(edu);
	if (err)
		goto err_master;

	edu->misc.minor = MISC_DYNAMIC_MINOR;
	edu->misc.name = edu->name;
	edu->misc.fops = &edu_fops;
	edu->misc.parent = &pdev->dev;
	err = misc_register(&edu->misc);
	if (err)
		goto err_irq;
	pci_set_drvdata(pdev, edu);
	dev_info(&pdev->dev, "/dev/%s: edu %x.%x, irq mode %u\n", edu->name,
		 ident >> 24, (ident >> 16) & 0xff, edu->irq_mode);
	return 0;

err_irq:
	if (edu->irq >= 0) {
		free_irq(edu->irq, edu);
		pci_free_irq_vectors(pdev);
	}
err_master:
	pci_clear_master(pdev);
err_iounmap:
	pci_iounmap(pdev, edu->regs);
err_regions:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_ida:
	ida_free(&edu_ida, edu->id);
err_put:
	edu_dev_put(edu);
	return err;
}

static void edu_remove(struct pci_dev *pdev)
{
	struct edu_dev *edu = pci_get_drvdata(pdev);
	u32 status;

	misc_deregister(&edu->misc);	/* no new opens */
	mutex_lock(&edu->lock);
	edu->gone = true;
	/* Let a timed-out transfer finish before its memory can go. */
	if (readl_poll_timeout(edu->regs + EDU_REG_DMA_CMD, status,
			       !(status & EDU_DMA_RUN), 1000, USEC_PER_SEC))
		dev_err(&pdev->dev, "DMA engine still busy at remove\n");
	if (edu->inflight) {
		edu_buf_put(edu->inflight);
		edu->inflight = NULL;
	}
	mutex_unlock(&edu->lock);

	if (edu->irq >= 0) {
		free_irq(edu->irq, edu);
		pci_free_irq_vectors(pdev);
	}
	pci_clear_master(pdev);
	pci_iounmap(pdev, edu->regs);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	ida_free(&edu_ida, edu->id);
	/* Open files and live buffers keep edu (and pdev) until they go. */
	edu_dev_put(edu);
}

static ssize_t stats_show(struct device_driver *drv, char *out)
{
	struct edu_stats s;

	edu_stats_read(&s);
	return sysfs_emit(out,
			  "allocated %llu\nfreed %llu\nlive_bytes %llu\ntransfers %llu\ntimeouts %llu\nirqs %llu\n",
			  s.allocated, s.freed, s.live_bytes, s.transfers,
			  s.timeouts, s.irqs);
}
static DRIVER_ATTR_RO(stats);

static struct attribute *edu_drv_attrs[] = {
	&driver_attr_stats.attr,
	NULL,
};
ATTRIBUTE_GROUPS(edu_drv);

static const struct pci_device_id edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, edu_ids);

static struct pci_driver edu_driver = {
	.name = DRV_NAME,
	.id_table = edu_ids,
	.probe = edu_probe,
	.remove = edu_remove,
	.groups = edu_drv_groups,
};
module_pci_driver(edu_driver);

MODULE_DESCRIPTION("devmap: DMA buffers and transfers for QEMU's edu device");
MODULE_LICENSE("GPL");
