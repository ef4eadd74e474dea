// SPDX-License-Identifier: GPL-2.0
/*
 * mmapdemo: the smallest driver with a real mmap path, as an example of
 * testing your own driver in QEMU with `devmap guest run --kmod`
 * (docs/testing-drivers.md).
 *
 * /dev/mmapdemo is a buffer of `pages` pages (vmalloc_user: zeroed, meant
 * for user mappings). User space maps it with MAP_SHARED; read() returns
 * the same bytes through the kernel's own view, so a test can check that
 * both views agree. Page 0 starts with "mmapdemo <pages>\n".
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/vmalloc.h>

static unsigned int pages = 4;
module_param(pages, uint, 0444);
MODULE_PARM_DESC(pages, "buffer size in pages, 1..256 (default 4)");

static void *buf;

static int mmapdemo_mmap(struct file *file, struct vm_area_struct *vma)
{
	/* A private copy-on-write copy would not be the device's memory. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/* Checks offset + length against the buffer, without overflow. */
	return remap_vmalloc_range(vma, buf, vma->vm_pgoff);
}

static ssize_t mmapdemo_read(struct file *file, char __user *to, size_t count,
			     loff_t *pos)
{
	return simple_read_from_buffer(to, count, pos, buf,
				       (size_t)pages << PAGE_SHIFT);
}

static const struct file_operations mmapdemo_fops = {
	.owner = THIS_MODULE,
	.mmap = mmapdemo_mmap,
	.read = mmapdemo_read,
	.llseek = default_llseek,
};

static struct miscdevice mmapdemo_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "mmapdemo",
	.fops = &mmapdemo_fops,
	.mode = 0600,
};

static int __init mmapdemo_init(void)
{
	int err;

	if (pages < 1 || pages > 256) {
		pr_err("mmapdemo: pages=%u, want 1..256\n", pages);
		return -EINVAL;
	}
	buf = vmalloc_user((size_t)pages << PAGE_SHIFT);
	if (!buf)
		return -ENOMEM;
	snprintf(buf, PAGE_SIZE, "mmapdemo %u\n", pages);
	err = misc_register(&mmapdemo_misc);
	if (err)
		vfree(buf);
	return err;
}

static void __exit mmapdemo_exit(void)
{
	/* Mappings hold the file, the file holds the module: none are left. */
	misc_deregister(&mmapdemo_misc);
	vfree(buf);
}

module_init(mmapdemo_init);
module_exit(mmapdemo_exit);
MODULE_DESCRIPTION("devmap example: a vmalloc buffer mapped to user space");
MODULE_LICENSE("GPL");
