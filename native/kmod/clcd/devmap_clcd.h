/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * devmap clcd: what user space can rely on about the PL111 fbdev driver.
 * It has no ioctls of its own; the standard FBIOGET_* and
 * FBIOPUT_VSCREENINFO apply within these limits.
 */
#ifndef DEVMAP_CLCD_H
#define DEVMAP_CLCD_H

/* fb_fix_screeninfo.id */
#define DEVMAP_CLCD_ID		"devmap-clcd"

/*
 * LCDTiming0.PPL counts 16-pixel groups in 6 bits, LCDTiming1.LPP lines in
 * 10 bits: QEMU's PL111 model honours exactly that range.
 */
#define DEVMAP_CLCD_MIN_XRES	16
#define DEVMAP_CLCD_MAX_XRES	1024
#define DEVMAP_CLCD_XRES_STEP	16
#define DEVMAP_CLCD_MIN_YRES	1
#define DEVMAP_CLCD_MAX_YRES	1024

/*
 * 32 bpp is XRGB8888 (red at bit 16), 16 bpp is RGB565: LCDControl.BGR is
 * set, which is how QEMU's model (and the Versatile Express wiring) puts
 * red in the high bits.
 */
#define DEVMAP_CLCD_BPP_32	32
#define DEVMAP_CLCD_BPP_16	16

#endif /* DEVMAP_CLCD_H */
