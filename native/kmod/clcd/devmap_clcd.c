// SPDX-License-Identifier: GPL-2.0
/*
 * devmap clcd: an fbdev driver for the ARM PrimeCell PL111 colour LCD
 * controller as QEMU models it on the Versatile Express (-M vexpress-a9).
 * Debian's armmp kernel has no DRM PL111 driver, and its built-in
 * FB_ARMCLCD does not probe on this device tree (the CLCD is wired to a DVI
 * bridge, not a panel), so both CLCDs stay unbound and this module takes
 * the one QEMU shows.
 *
 * The framebuffer is one write-combining DMA allocation (dma_alloc_wc, from
 * CMA), scanned out from LCDUPBASE and mapped to user space with
 * dma_mmap_wc. The mode is fixed at load time (module parameters) and the
 * allocation is sized for it; FBIOPUT_VSCREENINFO accepts any 16 or 32 bpp
 * mode that fits in that allocation.
 *
 * Lifetime: a mapping holds its file, an open file holds the fb_info and
 * this module (fbops.owner), and bind/unbind through sysfs is suppressed,
 * so remove() (rmmod) runs only after the last mapping is gone. The buffer
 * is freed in fb_destroy, which fbdev calls when the last fb_info
 * reference drops, never while a VMA still points at it.
 */
#include <linux/amba/bus.h>
#include <linux/dma-mapping.h>
#include <linux/fb.h>
#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>

#include "devmap_clcd.h"
#include "clcd_compat.h"

#define DRV_NAME "devmap_clcd"

/* PL111 registers (PL110 swaps CNTL and IENB). */
#define CLCD_TIM0		0x000
#define CLCD_TIM1		0x004
#define CLCD_TIM2		0x008
#define CLCD_TIM3		0x00c
#define CLCD_UBAS		0x010
#define CLCD_LBAS		0x014
#define CLCD_CNTL		0x018
#define CLCD_IENB		0x01c

#define CNTL_LCDEN		BIT(0)
#define CNTL_BPP_24		(5 << 1)	/* 24 bpp in 32-bit words */
#define CNTL_BPP_16_565		(6 << 1)	/* PL111 only */
#define CNTL_LCDTFT		BIT(5)
#define CNTL_BGR		BIT(8)
#define CNTL_LCDPWR		BIT(11)

#define TIM2_BCD		BIT(26)		/* bypass the pixel clock divider */

/*
 * Porches and sync widths of VESA 640x480@60, used for every mode: QEMU's
 * model reads only PPL, LPP, the bpp and the base address; a real panel
 * would need its own timings and pixel clock.
 */
#define HSW	96
#define HFP	16
#define HBP	48
#define VSW	2
#define VFP	10
#define VBP	33
#define PIXCLOCK_PS	39721

static unsigned int xres = 640;
module_param(xres, uint, 0444);
MODULE_PARM_DESC(xres, "width in pixels, 16..1024, a multiple of 16 (default 640)");
static unsigned int yres = 480;
module_param(yres, uint, 0444);
MODULE_PARM_DESC(yres, "height in lines, 1..1024 (default 480)");
static unsigned int bpp = 32;
module_param(bpp, uint, 0444);
MODULE_PARM_DESC(bpp, "bits per pixel: 32 (XRGB8888) or 16 (RGB565) (default 32)");
static unsigned long base = 0x10020000;
module_param(base, ulong, 0444);
MODULE_PARM_DESC(base, "bind only the PL111 at this physical address (default 0x10020000, the CA9 daughterboard CLCD, QEMU's console 0); 0 binds every PL111");

struct clcd_dev {
	struct amba_device *adev;
	void __iomem *regs;
	void *vaddr;
	dma_addr_t dma;
	size_t size;
	bool gone;			/* removed: leave the hardware alone */
	atomic_t maps;			/* VMAs of the buffer, for the record */
	u32 pseudo_palette[16];
};

static void clcd_set_bitfields(struct fb_var_screeninfo *var)
{
	memset(&var->transp, 0, sizeof(var->transp));
	if (var->bits_per_pixel == 16) {
		var->red = (struct fb_bitfield){ .offset = 11, .length = 5 };
		var->green = (struct fb_bitfield){ .offset = 5, .length = 6 };
		var->blue = (struct fb_bitfield){ .offset = 0, .length = 5 };
	} else {
		var->red = (struct fb_bitfield){ .offset = 16, .length = 8 };
		var->green = (struct fb_bitfield){ .offset = 8, .length = 8 };
		var->blue = (struct fb_bitfield){ .offset = 0, .length = 8 };
	}
}

static int clcd_check_var(struct fb_var_screeninfo *var, struct fb_info *info)
{
	struct clcd_dev *cd = info->par;
	u64 need;

	if (var->bits_per_pixel != DEVMAP_CLCD_BPP_16 &&
	    var->bits_per_pixel != DEVMAP_CLCD_BPP_32)
		return -EINVAL;
	if (var->xres < DEVMAP_CLCD_MIN_XRES || var->xres > DEVMAP_CLCD_MAX_XRES ||
	    var->yres < DEVMAP_CLCD_MIN_YRES || var->yres > DEVMAP_CLCD_MAX_YRES)
		return -EINVAL;
	var->xres = ALIGN(var->xres, DEVMAP_CLCD_XRES_STEP);
	if (var->xres > DEVMAP_CLCD_MAX_XRES)
		return -EINVAL;
	need = (u64)var->xres * var->yres * (var->bits_per_pixel / 8);
	if (need > cd->size)
		return -EINVAL;
	/* One screen, no panning: the controller scans from LCDUPBASE. */
	var->xres_virtual = var->xres;
	var->yres_virtual = var->yres;
	var->xoffset = 0;
	var->yoffset = 0;
	var->grayscale = 0;
	var->nonstd = 0;
	var->pixclock = PIXCLOCK_PS;
	var->left_margin = HBP;
	var->right_margin = HFP;
	var->hsync_len = HSW;
	var->upper_margin = VBP;
	var->lower_margin = VFP;
	var->vsync_len = VSW;
	var->vmode = FB_VMODE_NONINTERLACED;
	clcd_set_bitfields(var);
	return 0;
}

static int clcd_set_par(struct fb_info *info)
{
	struct clcd_dev *cd = info->par;
	struct fb_var_screeninfo *var = &info->var;
	u32 cntl;

	info->fix.line_length = var->xres * (var->bits_per_pixel / 8);
	info->fix.visual = FB_VISUAL_TRUECOLOR;
	if (cd->gone)
		return -ENODEV;

	/* Off while the geometry and the base change, then the PL111 power-up order. */
	writel(0, cd->regs + CLCD_CNTL);
	writel(((HBP - 1) << 24) | ((HFP - 1) << 16) | ((HSW - 1) << 8) |
	       ((var->xres / 16 - 1) << 2), cd->regs + CLCD_TIM0);
	writel((VBP << 24) | (VFP << 16) | ((VSW - 1) << 10) | (var->yres - 1),
	       cd->regs + CLCD_TIM1);
	writel(TIM2_BCD | ((var->xres - 1) << 16), cd->regs + CLCD_TIM2);
	writel(0, cd->regs + CLCD_TIM3);
	writel(lower_32_bits(cd->dma), cd->regs + CLCD_UBAS);
	writel(0, cd->regs + CLCD_LBAS);
	writel(0, cd->regs + CLCD_IENB);
	cntl = CNTL_LCDTFT | CNTL_BGR |
	       (var->bits_per_pixel == 16 ? CNTL_BPP_16_565 : CNTL_BPP_24);
	writel(cntl | CNTL_LCDEN, cd->regs + CLCD_CNTL);
	writel(cntl | CNTL_LCDEN | CNTL_LCDPWR, cd->regs + CLCD_CNTL);
	dev_dbg(&cd->adev->dev, "mode %ux%u-%u, base %pad\n",
		var->xres, var->yres, var->bits_per_pixel, &cd->dma);
	return 0;
}

/* Truecolor: fbcon's 16 console colours, in the pixel format. */
static int clcd_setcolreg(unsigned int regno, unsigned int red,
			  unsigned int green, unsigned int blue,
			  unsigned int transp, struct fb_info *info)
{
	struct fb_var_screeninfo *var = &info->var;
	u32 *pal = info->pseudo_palette;

	if (regno >= 16)
		return -EINVAL;
	pal[regno] = ((red >> (16 - var->red.length)) << var->red.offset) |
		     ((green >> (16 - var->green.length)) << var->green.offset) |
		     ((blue >> (16 - var->blue.length)) << var->blue.offset);
	return 0;
}

static void clcd_vm_open(struct vm_area_struct *vma)
{
	struct clcd_dev *cd = vma->vm_private_data;

	atomic_inc(&cd->maps);
}

static void clcd_vm_close(struct vm_area_struct *vma)
{
	struct clcd_dev *cd = vma->vm_private_data;

	atomic_dec(&cd->maps);
}

static const struct vm_operations_struct clcd_vm_ops = {
	.open = clcd_vm_open,
	.close = clcd_vm_close,
};

static int clcd_mmap(struct fb_info *info, struct vm_area_struct *vma)
{
	struct clcd_dev *cd = info->par;
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned long off;
	int err;

	/* Bounds and overflow first; dma_mmap_wc checks again in pages. */
	if (vma->vm_pgoff > (ULONG_MAX >> PAGE_SHIFT))
		return -EINVAL;
	off = vma->vm_pgoff << PAGE_SHIFT;
	if (off >= cd->size || len > cd->size - off)
		return -EINVAL;
	err = dma_mmap_wc(&cd->adev->dev, vma, cd->vaddr, cd->dma, cd->size);
	if (err) {
		dev_err(&cd->adev->dev, "dma_mmap_wc failed: %d\n", err);
		return err;
	}
	vma->vm_private_data = cd;
	vma->vm_ops = &clcd_vm_ops;
	clcd_vm_open(vma);
	return 0;
}

/* The last fb_info reference is gone: no file, hence no mapping, is left. */
static void clcd_destroy(struct fb_info *info)
{
	struct clcd_dev *cd = info->par;
	struct device *dev = &cd->adev->dev;

	WARN_ON(atomic_read(&cd->maps));
	dma_free_wc(dev, cd->size, cd->vaddr, cd->dma);
	framebuffer_release(info);
	put_device(dev);
}

static const struct fb_ops clcd_fb_ops = {
	.owner = THIS_MODULE,
	.fb_check_var = clcd_check_var,
	.fb_set_par = clcd_set_par,
	.fb_setcolreg = clcd_setcolreg,
	.fb_mmap = clcd_mmap,
	.fb_destroy = clcd_destroy,
	CLCD_FB_OPS_IOMEM,
};

static int clcd_params_ok(struct device *dev)
{
	if (bpp != DEVMAP_CLCD_BPP_16 && bpp != DEVMAP_CLCD_BPP_32) {
		dev_err(dev, "bpp=%u: want 16 or 32\n", bpp);
		return -EINVAL;
	}
	if (xres < DEVMAP_CLCD_MIN_XRES || xres > DEVMAP_CLCD_MAX_XRES ||
	    xres % DEVMAP_CLCD_XRES_STEP) {
		dev_err(dev, "xres=%u: want 16..1024 in steps of 16\n", xres);
		return -EINVAL;
	}
	if (yres < DEVMAP_CLCD_MIN_YRES || yres > DEVMAP_CLCD_MAX_YRES) {
		dev_err(dev, "yres=%u: want 1..1024\n", yres);
		return -EINVAL;
	}
	return 0;
}

static int clcd_probe(struct amba_device *adev, const struct amba_id *id)
{
	struct device *dev = &adev->dev;
	struct fb_info *info;
	struct clcd_dev *cd;
	int err;

	if (base && adev->res.start != base) {
		dev_dbg(dev, "not the CLCD at %#lx (base=); leaving it\n", base);
		return -ENODEV;
	}
	err = clcd_params_ok(dev);
	if (err)
		return err;

	info = framebuffer_alloc(sizeof(*cd), dev);
	if (!info)
		return -ENOMEM;
	cd = info->par;
	cd->adev = adev;
	atomic_set(&cd->maps, 0);

	err = amba_request_regions(adev, NULL);
	if (err)
		goto err_release_info;
	cd->regs = ioremap(adev->res.start, resource_size(&adev->res));
	if (!cd->regs) {
		err = -ENOMEM;
		goto err_release_regions;
	}
	err = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	if (err)
		goto err_unmap;
	cd->size = PAGE_ALIGN(xres * yres * (bpp / 8));
	cd->vaddr = dma_alloc_wc(dev, cd->size, &cd->dma, GFP_KERNEL);
	if (!cd->vaddr) {
		dev_err(dev, "dma_alloc_wc of %zu bytes failed (CMA too small?)\n", cd->size);
		err = -ENOMEM;
		goto err_unmap;
	}

	strscpy(info->fix.id, DEVMAP_CLCD_ID, sizeof(info->fix.id));
	info->fix.type = FB_TYPE_PACKED_PIXELS;
	info->fix.accel = FB_ACCEL_NONE;
	info->fix.smem_start = cd->dma;
	info->fix.smem_len = cd->size;
	info->fix.mmio_start = adev->res.start;
	info->fix.mmio_len = resource_size(&adev->res);
	info->var.xres = xres;
	info->var.yres = yres;
	info->var.bits_per_pixel = bpp;
	info->var.activate = FB_ACTIVATE_NOW;
	info->var.height = -1;
	info->var.width = -1;
	info->fbops = &clcd_fb_ops;
	/* Normal (write-combining) memory: writel and memcpy both work on it. */
	info->screen_base = (char __iomem *)cd->vaddr;
	info->screen_size = cd->size;
	info->pseudo_palette = cd->pseudo_palette;
	err = clcd_check_var(&info->var, info);
	if (err)
		goto err_free_dma;
	err = clcd_set_par(info);
	if (err)
		goto err_free_dma;

	/* fb_destroy puts it: the buffer outlives remove() only with the device. */
	get_device(dev);
	amba_set_drvdata(adev, info);
	err = register_framebuffer(info);
	if (err) {
		dev_err(dev, "register_framebuffer failed: %d\n", err);
		goto err_disable;
	}
	dev_info(dev, "fb%d: %ux%u-%u, %zu bytes at %pad (dma_alloc_wc)\n",
		 info->node, info->var.xres, info->var.yres,
		 info->var.bits_per_pixel, cd->size, &cd->dma);
	return 0;

err_disable:
	writel(0, cd->regs + CLCD_CNTL);
	put_device(dev);
err_free_dma:
	dma_free_wc(dev, cd->size, cd->vaddr, cd->dma);
err_unmap:
	iounmap(cd->regs);
err_release_regions:
	amba_release_regions(adev);
err_release_info:
	framebuffer_release(info);
	return err;
}

static void clcd_remove(struct amba_device *adev)
{
	struct fb_info *info = amba_get_drvdata(adev);
	struct clcd_dev *cd = info->par;
	void __iomem *regs = cd->regs;

	/* Stop scanning out before the buffer can go away. */
	lock_fb_info(info);
	cd->gone = true;
	writel(0, regs + CLCD_CNTL);
	unlock_fb_info(info);
	/* May call clcd_destroy (cd is gone after this). */
	unregister_framebuffer(info);
	iounmap(regs);
	amba_release_regions(adev);
}

/* QEMU's PL111 and the Versatile Express's: primecell id 0x00041111. */
static const struct amba_id clcd_ids[] = {
	{ .id = 0x00041111, .mask = 0x000fffff },
	{ 0, 0 },
};

static struct amba_driver clcd_driver = {
	.drv = {
		.name = DRV_NAME,
		/* No sysfs unbind: remove() must wait for the last mapping (see top). */
		.suppress_bind_attrs = true,
	},
	.id_table = clcd_ids,
	.probe = clcd_probe,
	.remove = clcd_remove,
};

/*
 * A 64-bit modpost (armhf cross-built on amd64) sizes the pointer in
 * struct amba_id as 8 bytes and rejects the table (Kbuild defines
 * DEVMAP_NO_DEVICE_TABLE then): only autoloading needs it, and the harness
 * insmods. Native builds and arm64 keep it.
 */
#ifndef DEVMAP_NO_DEVICE_TABLE
MODULE_DEVICE_TABLE(amba, clcd_ids);
#endif
module_amba_driver(clcd_driver);

MODULE_DESCRIPTION("devmap: PL111 CLCD fbdev on a dma_alloc_wc buffer, mapped with dma_mmap_wc");
MODULE_AUTHOR("devmap");
MODULE_LICENSE("GPL");
MODULE_VERSION(DEVMAP_KMOD_VERSION);
