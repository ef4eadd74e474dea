/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces devmap_edu uses that changed between Linux 6.1
 * (Debian 12) and 7.x (Debian sid). Every kernel version test of the driver
 * is here, so the .c files read as plain current code.
 */
#ifndef DEVMAP_EDU_COMPAT_H
#define DEVMAP_EDU_COMPAT_H

#include <linux/fs.h>
#include <linux/pci.h>
#include <linux/version.h>

/* 6.8 named the INTx flag PCI_IRQ_INTX; 6.10 removed PCI_IRQ_LEGACY. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
#define PCI_IRQ_INTX PCI_IRQ_LEGACY
#endif

/*
 * Buffer cookies are unsigned offsets past 4 GiB (see edu_open). 6.12 moved
 * that property from each open file (FMODE_UNSIGNED_OFFSET in f_mode) to
 * the file_operations (FOP_UNSIGNED_OFFSET in fop_flags, a field 6.1 lacks):
 * edu_fops lists EDU_FOPS_UNSIGNED_OFFSET and edu_open ORs in
 * EDU_FMODE_UNSIGNED_OFFSET, one of the two being empty.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define EDU_FOPS_UNSIGNED_OFFSET	.fop_flags = FOP_UNSIGNED_OFFSET,
#define EDU_FMODE_UNSIGNED_OFFSET	0
#else
#define EDU_FOPS_UNSIGNED_OFFSET
#define EDU_FMODE_UNSIGNED_OFFSET	FMODE_UNSIGNED_OFFSET
#endif

#endif /* DEVMAP_EDU_COMPAT_H */
