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
#include "edu.h"

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

struct edu_counters edu_stats;

static DEFINE_IDA(edu_ida);

static void edu_dev_release(struct kref *ref)
{
	struct edu_dev *edu = container_of(ref, struct edu_dev, ref);

	pci_dev_put(edu->pdev);
	kfree(edu);
}

void edu_dev_put(struct edu_dev *edu)
{
	kref_put(&edu->ref, edu_dev_release);
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
	 * says its offsets are unsigned cookies, as DRM's fake offsets do
	 * (a flag of the open file before 6.12, of edu_fops since).
	 */
	file->f_mode |= EDU_FMODE_UNSIGNED_OFFSET;
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
	EDU_FOPS_UNSIGNED_OFFSET
};

static int edu_setup_irq(struct edu_dev *edu)
{
	struct pci_dev *pdev = edu->pdev;
	int err;

	edu->irq = -1;
	edu->irq_mode = EDU_IRQ_POLL;
	if (poll)
		return 0;
	err = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
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
MODULE_VERSION(DEVMAP_KMOD_VERSION);
