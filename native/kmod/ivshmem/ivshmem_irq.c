// SPDX-License-Identifier: GPL-2.0
/*
 * devmap_ivshmem: MSI-X interrupts of the doorbell variant. Each vector
 * counts its interrupts; a file sees the vectors that fired since it last
 * looked (read()/poll()), and a vector may also signal an eventfd.
 */
#include "ivshmem.h"

static irqreturn_t ivshmem_irq(int irq, void *data)
{
	struct ivshmem_vector *v = data;
	struct ivshmem_dev *idev = v->idev;

	atomic_inc(&v->count);
	spin_lock(&idev->efd_lock);
	if (v->efd)
		ivshmem_eventfd_signal(v->efd);
	spin_unlock(&idev->efd_lock);
	wake_up_interruptible(&idev->wait);
	return IRQ_HANDLED;
}

/* A bit per vector that fired since this file last looked. */
static u64 ivshmem_pending(struct ivshmem_file *f, bool consume)
{
	struct ivshmem_dev *idev = f->idev;
	unsigned int i;
	u64 mask = 0;
	int c;

	for (i = 0; i < idev->nvec; i++) {
		c = atomic_read(&idev->vec[i].count);
		if (c != f->seen[i]) {
			mask |= BIT_ULL(i);
			if (consume)
				f->seen[i] = c;
		}
	}
	return mask;
}

ssize_t ivshmem_read(struct file *file, char __user *buf, size_t count,
			    loff_t *ppos)
{
	struct ivshmem_file *f = file->private_data;
	struct ivshmem_dev *idev = f->idev;
	u64 mask;
	int err;

	if (count < sizeof(mask))
		return -EINVAL;
	for (;;) {
		if (READ_ONCE(idev->gone))
			return -ENODEV;
		/* plain devices have no interrupts to wait for */
		if (!idev->nvec)
			return -EOPNOTSUPP;
		if (READ_ONCE(f->cancelled))
			return 0;
		mutex_lock(&idev->lock);
		mask = ivshmem_pending(f, true);
		mutex_unlock(&idev->lock);
		if (mask)
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		err = wait_event_interruptible(idev->wait,
					       READ_ONCE(idev->gone) ||
					       READ_ONCE(f->cancelled) ||
					       ivshmem_pending(f, false));
		if (err)
			return err;
	}
	if (copy_to_user(buf, &mask, sizeof(mask)))
		return -EFAULT;
	return sizeof(mask);
}

__poll_t ivshmem_poll(struct file *file, poll_table *wait)
{
	struct ivshmem_file *f = file->private_data;
	struct ivshmem_dev *idev = f->idev;

	poll_wait(file, &idev->wait, wait);
	if (READ_ONCE(idev->gone))
		return EPOLLHUP | EPOLLERR;
	if (READ_ONCE(f->cancelled) || ivshmem_pending(f, false))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

int ivshmem_set_eventfd(struct ivshmem_file *f,
			       struct ivshmem_eventfd *req)
{
	struct ivshmem_dev *idev = f->idev;
	struct ivshmem_vector *v;
	struct eventfd_ctx *ctx = NULL, *old;

	if (req->vector >= idev->nvec)
		return -EINVAL;
	if (req->fd >= 0) {
		ctx = eventfd_ctx_fdget(req->fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	v = &idev->vec[req->vector];
	spin_lock_irq(&idev->efd_lock);
	old = v->efd;
	v->efd = ctx;
	v->efd_owner = ctx ? f->file : NULL;
	spin_unlock_irq(&idev->efd_lock);
	if (old)
		eventfd_ctx_put(old);
	return 0;
}


int ivshmem_setup_irqs(struct ivshmem_dev *idev)
{
	struct pci_dev *pdev = idev->pdev;
	int nvec, err, i;

	/* Only the doorbell variant has MSI-X (BAR1); plain has no interrupts. */
	nvec = pci_msix_vec_count(pdev);
	if (nvec <= 0)
		return 0;
	nvec = min(nvec, IVSHMEM_MAX_VECTORS);
	/* An MSI-X message is a memory write by the device: needs bus master. */
	pci_set_master(pdev);
	err = pci_alloc_irq_vectors(pdev, nvec, nvec, PCI_IRQ_MSIX);
	if (err < 0)
		goto err_master;
	for (i = 0; i < nvec; i++) {
		idev->vec[i].idev = idev;
		idev->vec[i].index = i;
		err = request_irq(pci_irq_vector(pdev, i), ivshmem_irq, 0,
				  idev->name, &idev->vec[i]);
		if (err)
			goto err_free;
	}
	idev->nvec = nvec;
	return 0;

err_free:
	while (--i >= 0)
		free_irq(pci_irq_vector(pdev, i), &idev->vec[i]);
	pci_free_irq_vectors(pdev);
err_master:
	pci_clear_master(pdev);
	return err;
}

void ivshmem_free_irqs(struct ivshmem_dev *idev)
{
	unsigned int i;

	for (i = 0; i < idev->nvec; i++) {
		free_irq(pci_irq_vector(idev->pdev, i), &idev->vec[i]);
		if (idev->vec[i].efd)
			eventfd_ctx_put(idev->vec[i].efd);
		idev->vec[i].efd = NULL;
	}
	if (idev->nvec) {
		pci_free_irq_vectors(idev->pdev);
		pci_clear_master(idev->pdev);
	}
}
