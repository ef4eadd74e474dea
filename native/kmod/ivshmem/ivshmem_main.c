// SPDX-License-Identifier: GPL-2.0
/*
 * devmap ivshmem: a PCI driver for QEMU's ivshmem device (1af4:1110, plain
 * and doorbell) that gives each device a /dev/ivshmemN node. mmap() maps the
 * shared memory (BAR2) with a per-file cache attribute, ioctls expose the
 * BAR0 registers, and read()/poll() or an eventfd deliver MSI-X interrupts.
 *
 * Lifetime: the device state is reference counted (one reference for the
 * bound device, one per open file), so unbinding while files are open only
 * revokes: remove() zaps every user mapping, later faults get SIGBUS, and
 * every other file operation returns -ENODEV. rmmod is refused while a file
 * is open (or mapped, since a mapping holds its file) by the fops owner.
 */
#include "ivshmem.h"

static DEFINE_IDA(ivshmem_ida);

static void ivshmem_free(struct kref *ref)
{
	kfree(container_of(ref, struct ivshmem_dev, ref));
}

static int ivshmem_open(struct inode *inode, struct file *file)
{
	struct miscdevice *misc = file->private_data;
	struct ivshmem_dev *idev = container_of(misc, struct ivshmem_dev, misc);
	struct ivshmem_file *f;
	unsigned int i;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	mutex_lock(&idev->lock);
	if (idev->gone) {
		mutex_unlock(&idev->lock);
		kfree(f);
		return -ENODEV;
	}
	kref_get(&idev->ref);
	f->idev = idev;
	f->file = file;
	f->granted = IVSHMEM_CACHE_NONE;
	for (i = 0; i < idev->nvec; i++)
		f->seen[i] = atomic_read(&idev->vec[i].count);
	list_add(&f->node, &idev->files);
	mutex_unlock(&idev->lock);
	file->private_data = f;
	return 0;
}

static int ivshmem_release(struct inode *inode, struct file *file)
{
	struct ivshmem_file *f = file->private_data;
	struct ivshmem_dev *idev = f->idev;
	struct eventfd_ctx *put[IVSHMEM_MAX_VECTORS];
	unsigned int i, n = 0;

	mutex_lock(&idev->lock);
	list_del(&f->node);
	/* eventfds live as long as the file that attached them */
	spin_lock_irq(&idev->efd_lock);
	for (i = 0; i < idev->nvec; i++) {
		if (idev->vec[i].efd_owner == file && idev->vec[i].efd) {
			put[n++] = idev->vec[i].efd;
			idev->vec[i].efd = NULL;
			idev->vec[i].efd_owner = NULL;
		}
	}
	spin_unlock_irq(&idev->efd_lock);
	mutex_unlock(&idev->lock);
	while (n)
		eventfd_ctx_put(put[--n]);
	kfree(f);
	kref_put(&idev->ref, ivshmem_free);
	return 0;
}

/* Faults only happen once remove() has zapped the PTEs: the BAR is gone. */
static vm_fault_t ivshmem_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct ivshmem_vm_ops = {
	.fault = ivshmem_fault,
};

/*
 * The attribute the PTEs really got. x86 PAT may differ from the request:
 * it maps WB as UC- where the MTRRs say UC (the PCI hole, with SeaBIOS),
 * and gives a new mapping the type of an existing one of the same range.
 */
static u32 ivshmem_granted(struct vm_area_struct *vma, u32 want)
{
#ifdef CONFIG_X86
	pteval_t bits, wc = pgprot_val(pgprot_writecombine(PAGE_SHARED));
	pgprot_t prot;

	if (ivshmem_pfnmap_prot(vma, vma->vm_start, &prot))
		return want;
	bits = pgprot_val(prot) & _PAGE_CACHE_MASK;
	if (!bits)
		return IVSHMEM_CACHE_WB;
	return bits == (wc & _PAGE_CACHE_MASK) ? IVSHMEM_CACHE_WC :
						 IVSHMEM_CACHE_UC;
#else
	return want;
#endif
}

static int ivshmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ivshmem_file *f = file->private_data;
	struct ivshmem_dev *idev = f->idev;
	unsigned long pages = idev->shm_size >> PAGE_SHIFT;
	unsigned long len = vma_pages(vma);
	int err;

	/* A private COW copy of device memory makes no sense: refuse it. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* Written so that neither side can overflow. */
	if (vma->vm_pgoff >= pages || len > pages - vma->vm_pgoff)
		return -EINVAL;

	switch (f->cache) {
	case IVSHMEM_CACHE_UC:
		vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
		break;
	case IVSHMEM_CACHE_WC:
		vma->vm_page_prot = pgprot_writecombine(vma->vm_page_prot);
		break;
	default:
		break;
	}
	vma->vm_ops = &ivshmem_vm_ops;

	mutex_lock(&idev->lock);
	if (idev->gone) {
		err = -ENODEV;
		goto out;
	}
	/* Sets VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP. */
	err = vm_iomap_memory(vma, idev->shm_start, idev->shm_size);
	if (err)
		dev_dbg(&idev->pdev->dev, "mmap pgoff %lu len %lu: %d\n",
			vma->vm_pgoff, len, err);
	else
		f->granted = ivshmem_granted(vma, f->cache);
out:
	mutex_unlock(&idev->lock);
	return err;
}

union ivshmem_ioctl_arg {
	struct ivshmem_info info;
	struct ivshmem_reg reg;
	struct ivshmem_eventfd efd;
	u32 val;
};

static bool ivshmem_reg_ok(u32 offset, bool write)
{
	return offset == IVSHMEM_REG_INTRMASK ||
	       offset == IVSHMEM_REG_INTRSTATUS ||
	       offset == (write ? IVSHMEM_REG_DOORBELL : IVSHMEM_REG_IVPOSITION);
}

/* Called with idev->lock held and the device present; touches no user memory. */
static long ivshmem_do_ioctl(struct ivshmem_file *f, unsigned int cmd,
			     union ivshmem_ioctl_arg *a)
{
	struct ivshmem_dev *idev = f->idev;

	switch (cmd) {
	case IVSHMEM_IOC_INFO:
		memset(&a->info, 0, sizeof(a->info));
		a->info.size = idev->shm_size;
		a->info.ivposition = ioread32(idev->regs +
					      IVSHMEM_REG_IVPOSITION);
		a->info.vectors = idev->nvec;
		a->info.variant = idev->nvec ? IVSHMEM_VARIANT_DOORBELL :
					       IVSHMEM_VARIANT_PLAIN;
		a->info.cache = f->cache;
		a->info.granted = f->granted;
		return 0;
	case IVSHMEM_IOC_SET_CACHE:
		if (a->val > IVSHMEM_CACHE_WC)
			return -EINVAL;
		f->cache = a->val;
		return 0;
	case IVSHMEM_IOC_REG_READ:
		if (!ivshmem_reg_ok(a->reg.offset, false))
			return -EINVAL;
		a->reg.value = ioread32(idev->regs + a->reg.offset);
		return 0;
	case IVSHMEM_IOC_REG_WRITE:
		if (!ivshmem_reg_ok(a->reg.offset, true))
			return -EINVAL;
		iowrite32(a->reg.value, idev->regs + a->reg.offset);
		return 0;
	case IVSHMEM_IOC_RING:
		iowrite32(a->val, idev->regs + IVSHMEM_REG_DOORBELL);
		return 0;
	case IVSHMEM_IOC_SET_EVENTFD:
		return ivshmem_set_eventfd(f, &a->efd);
	case IVSHMEM_IOC_CANCEL:
		WRITE_ONCE(f->cancelled, true);
		wake_up_interruptible(&idev->wait);
		return 0;
	}
	return -ENOTTY;
}

static long ivshmem_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct ivshmem_file *f = file->private_data;
	struct ivshmem_dev *idev = f->idev;
	void __user *argp = (void __user *)arg;
	union ivshmem_ioctl_arg a;
	size_t size = _IOC_SIZE(cmd);
	long ret;

	if (_IOC_TYPE(cmd) != IVSHMEM_IOC_MAGIC || size > sizeof(a))
		return -ENOTTY;
	/*
	 * Copy in and out without the lock: a fault on the user buffer
	 * takes mmap_lock, which mmap() holds while it takes idev->lock.
	 */
	if ((_IOC_DIR(cmd) & _IOC_WRITE) && copy_from_user(&a, argp, size))
		return -EFAULT;
	mutex_lock(&idev->lock);
	/* After remove() BAR0 is unmapped: no register may be touched. */
	ret = idev->gone ? -ENODEV : ivshmem_do_ioctl(f, cmd, &a);
	mutex_unlock(&idev->lock);
	if (!ret && (_IOC_DIR(cmd) & _IOC_READ) && copy_to_user(argp, &a, size))
		return -EFAULT;
	return ret;
}

static const struct file_operations ivshmem_fops = {
	.owner = THIS_MODULE,
	.open = ivshmem_open,
	.release = ivshmem_release,
	.mmap = ivshmem_mmap,
	.read = ivshmem_read,
	.poll = ivshmem_poll,
	.unlocked_ioctl = ivshmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static int ivshmem_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct ivshmem_dev *idev;
	int err;

	idev = kzalloc(sizeof(*idev), GFP_KERNEL);
	if (!idev)
		return -ENOMEM;
	kref_init(&idev->ref);
	mutex_init(&idev->lock);
	spin_lock_init(&idev->efd_lock);
	init_waitqueue_head(&idev->wait);
	INIT_LIST_HEAD(&idev->files);
	idev->pdev = pdev;

	err = ida_alloc(&ivshmem_ida, GFP_KERNEL);
	if (err < 0)
		goto err_free;
	idev->id = err;
	snprintf(idev->name, sizeof(idev->name), "ivshmem%d", idev->id);

	err = pci_enable_device(pdev);
	if (err) {
		dev_err(&pdev->dev, "cannot enable device: %d\n", err);
		goto err_ida;
	}
	err = pci_request_regions(pdev, DRV_NAME);
	if (err) {
		dev_err(&pdev->dev, "cannot claim BARs: %d\n", err);
		goto err_disable;
	}
	idev->shm_start = pci_resource_start(pdev, 2);
	idev->shm_size = pci_resource_len(pdev, 2);
	if (!(pci_resource_flags(pdev, 2) & IORESOURCE_MEM) ||
	    idev->shm_size < PAGE_SIZE ||
	    !PAGE_ALIGNED(idev->shm_start | idev->shm_size)) {
		dev_err(&pdev->dev, "BAR2 %pR is not page-aligned memory\n",
			&pdev->resource[2]);
		err = -ENODEV;
		goto err_release;
	}
	idev->regs = pci_iomap(pdev, 0, 0);
	if (!idev->regs) {
		dev_err(&pdev->dev, "cannot map BAR0\n");
		err = -ENOMEM;
		goto err_release;
	}
	err = ivshmem_setup_irqs(idev);
	if (err) {
		dev_err(&pdev->dev, "cannot set up MSI-X: %d\n", err);
		goto err_unmap;
	}
	pci_set_drvdata(pdev, idev);

	idev->misc.minor = MISC_DYNAMIC_MINOR;
	idev->misc.name = idev->name;
	idev->misc.fops = &ivshmem_fops;
	idev->misc.parent = &pdev->dev;
	err = misc_register(&idev->misc);
	if (err) {
		dev_err(&pdev->dev, "cannot register %s: %d\n", idev->name, err);
		goto err_irqs;
	}
	dev_dbg(&pdev->dev, "%s: %pa bytes at %pa, %u vectors\n", idev->name,
		&idev->shm_size, &idev->shm_start, idev->nvec);
	return 0;

err_irqs:
	ivshmem_free_irqs(idev);
err_unmap:
	pci_iounmap(pdev, idev->regs);
err_release:
	pci_release_regions(pdev);
err_disable:
	pci_disable_device(pdev);
err_ida:
	ida_free(&ivshmem_ida, idev->id);
err_free:
	kfree(idev);
	return err;
}

static void ivshmem_remove(struct pci_dev *pdev)
{
	struct ivshmem_dev *idev = pci_get_drvdata(pdev);
	struct ivshmem_file *f;

	misc_deregister(&idev->misc);
	mutex_lock(&idev->lock);
	WRITE_ONCE(idev->gone, true);
	/*
	 * Revoke: user PTEs to BAR2 must not outlive the binding. All files
	 * of one node share an address_space; zapping one per file is cheap.
	 * A VMA whose ->mmap finished but that the core has not linked into
	 * i_mmap yet escapes this: it keeps pointing at the (still decoded,
	 * or after unplug unassigned) BAR, which user space may touch but
	 * which never reaches kernel memory.
	 */
	list_for_each_entry(f, &idev->files, node)
		unmap_mapping_range(f->file->f_mapping, 0, 0, 1);
	ivshmem_free_irqs(idev);
	idev->nvec = 0;
	mutex_unlock(&idev->lock);
	wake_up_interruptible(&idev->wait);

	pci_iounmap(pdev, idev->regs);
	pci_release_regions(pdev);
	pci_disable_device(pdev);
	ida_free(&ivshmem_ida, idev->id);
	kref_put(&idev->ref, ivshmem_free);
}

static const struct pci_device_id ivshmem_ids[] = {
	{ PCI_DEVICE(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ivshmem_ids);

static struct pci_driver ivshmem_driver = {
	.name = DRV_NAME,
	.id_table = ivshmem_ids,
	.probe = ivshmem_probe,
	.remove = ivshmem_remove,
};
module_pci_driver(ivshmem_driver);

MODULE_DESCRIPTION("devmap: /dev/ivshmemN for QEMU's ivshmem PCI device");
MODULE_AUTHOR("devmap contributors");
MODULE_LICENSE("GPL");
MODULE_VERSION(DEVMAP_KMOD_VERSION);
