/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces devmap_ivshmem uses that changed between Linux 6.1
 * (Debian 12) and 7.x (Debian sid). Every kernel version test of the driver
 * is here, so ivshmem_main.c and ivshmem_irq.c read as plain current code.
 */
#ifndef DEVMAP_IVSHMEM_COMPAT_H
#define DEVMAP_IVSHMEM_COMPAT_H

#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/version.h>

/* 6.8 dropped the count: eventfd_signal(ctx) always adds 1. */
static inline void ivshmem_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

#ifdef CONFIG_X86
/*
 * The protection bits of the PTE that maps @addr in a VM_IO | VM_PFNMAP
 * @vma; the caller holds mmap_lock. follow_pte() took the mm before 6.10 and
 * the vma in 6.10 and 6.11; 6.12 replaced it with follow_pfnmap_start(),
 * which reports the pgprot itself. Only x86 asks (its PAT may override the
 * requested cache attribute), and 32-bit ARM has no pte_pgprot().
 */
static inline int ivshmem_pfnmap_prot(struct vm_area_struct *vma,
				      unsigned long addr, pgprot_t *prot)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	struct follow_pfnmap_args args = { .vma = vma, .address = addr };
	int err = follow_pfnmap_start(&args);

	if (err)
		return err;
	*prot = args.pgprot;
	follow_pfnmap_end(&args);
	return 0;
#else
	spinlock_t *ptl;
	pte_t *ptep;
	int err;

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	err = follow_pte(vma, addr, &ptep, &ptl);
#else
	err = follow_pte(vma->vm_mm, addr, &ptep, &ptl);
#endif
	if (err)
		return err;
	*prot = pte_pgprot(ptep_get(ptep));
	pte_unmap_unlock(ptep, ptl);
	return 0;
#endif
}
#endif /* CONFIG_X86 */

#endif /* DEVMAP_IVSHMEM_COMPAT_H */
