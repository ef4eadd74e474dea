/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces devmap_clcd uses that changed between Linux 6.1
 * (Debian 12) and 7.x (Debian sid). Every kernel version test of the driver
 * is here.
 */
#ifndef DEVMAP_CLCD_COMPAT_H
#define DEVMAP_CLCD_COMPAT_H

#include <linux/fb.h>
#include <linux/version.h>

/*
 * fb_ops entries for read/write and drawing on a framebuffer that fbdev
 * treats as I/O memory (screen_base). Since 6.6 fbdev has no default
 * read/write: a driver names fb_io_read/fb_io_write, which the
 * __FB_DEFAULT_IOMEM_OPS_* initializers do. Before, fbdev's own read/write
 * served a driver without them (6.1 exports no fb_io_read, although some
 * 6.1 stable headers define initializers that name it).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#define CLCD_FB_OPS_IOMEM \
	__FB_DEFAULT_IOMEM_OPS_RDWR, \
	__FB_DEFAULT_IOMEM_OPS_DRAW
#else
#define CLCD_FB_OPS_IOMEM \
	.fb_fillrect	= cfb_fillrect, \
	.fb_copyarea	= cfb_copyarea, \
	.fb_imageblit	= cfb_imageblit
#endif

#endif /* DEVMAP_CLCD_COMPAT_H */
