// SPDX-License-Identifier: GPL-2.0
/*
 * devmap_edu: the device's interrupt, its DMA engine (one transfer at a
 * time between a buffer and the device's 4 KiB memory) and the factorial
 * and liveness registers.
 */
#include "edu.h"

irqreturn_t edu_irq(int irq, void *data)
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

int edu_xfer(struct edu_file *ef, const struct edu_xfer *x)
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

long edu_word(struct edu_dev *edu, unsigned int cmd, struct edu_word *w)
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
