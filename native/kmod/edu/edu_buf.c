// SPDX-License-Identifier: GPL-2.0
/*
 * devmap_edu: coherent DMA buffers (dma_alloc_coherent), one table of them
 * per open file, and their mappings to user space (dma_mmap_coherent). A
 * buffer is reference counted -- its file's table, each VMA, a transfer
 * that may still write it -- so memory user space still maps is never
 * handed back.
 */
#include "edu.h"

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

void edu_buf_put(struct edu_buf *buf)
{
	kref_put(&buf->ref, edu_buf_release);
}

/* A reference to buffer @id of this file, or NULL. */
struct edu_buf *edu_buf_get(struct edu_file *ef, unsigned long id)
{
	struct edu_buf *buf;

	xa_lock(&ef->bufs);
	buf = xa_load(&ef->bufs, id);
	if (buf)
		kref_get(&buf->ref);
	xa_unlock(&ef->bufs);
	return buf;
}

long edu_alloc(struct edu_file *ef, struct edu_alloc *req)
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

long edu_free(struct edu_file *ef, unsigned long id)
{
	struct edu_buf *buf = xa_erase(&ef->bufs, id);

	if (!buf)
		return -ENOENT;
	edu_buf_put(buf);
	return 0;
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

int edu_mmap(struct file *file, struct vm_area_struct *vma)
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
