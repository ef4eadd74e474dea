// SPDX-License-Identifier: MIT
/*
 * Smoke test of /dev/ivshmemN without Node: info, a mapping per cache mode,
 * and the refused cases. Exit status 0 when every check passes.
 *
 *   ./smoke [/dev/ivshmem0]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devmap_ivshmem.h"

static int failures;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		failures++;
}

/* mmap that is expected to fail with `want`. */
static void refused(int fd, size_t len, int flags, off_t off, int want,
		    const char *what)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);
	char msg[160];
	int err = p == MAP_FAILED ? errno : 0;

	if (p != MAP_FAILED)
		munmap(p, len);
	snprintf(msg, sizeof(msg), "%s: %s (want %s)", what,
		 err ? strerror(err) : "mapped", strerror(want));
	check(err == want, msg);
}

/* Rings our own ID: vector 0 reaches an eventfd, the last one read(). */
static void doorbell(int fd, const struct ivshmem_info *info)
{
	struct ivshmem_eventfd req = { .vector = 0 };
	struct pollfd pfd = { .events = POLLIN };
	uint32_t last = info->vectors - 1;
	uint32_t ring = info->ivposition << 16;
	uint64_t v = 0, seen = 0;
	int i;

	req.fd = eventfd(0, EFD_CLOEXEC);
	check(ioctl(fd, IVSHMEM_IOC_SET_EVENTFD, &req) == 0, "SET_EVENTFD");
	check(ioctl(fd, IVSHMEM_IOC_RING, &ring) == 0, "RING own vector 0");
	pfd.fd = req.fd;
	check(poll(&pfd, 1, 5000) == 1 && read(req.fd, &v, 8) == 8 && v == 1,
	      "eventfd of vector 0 signalled");
	ring |= last;
	check(ioctl(fd, IVSHMEM_IOC_RING, &ring) == 0, "RING last vector");
	/* vector 0 fired too since open(): gather until the last one shows */
	pfd.fd = fd;
	for (i = 0; i < 50 && !(seen & (1ULL << last)); i++)
		if (poll(&pfd, 1, 100) == 1 && read(fd, &v, 8) == 8)
			seen |= v;
	check(seen & (1ULL << last), "read() reports the last vector");
	check(ioctl(fd, IVSHMEM_IOC_CANCEL) == 0 && read(fd, &v, 8) == 0,
	      "read() returns 0 after CANCEL");
	close(req.fd);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/ivshmem0";
	static const char * const names[] = { "wb", "uc", "wc" };
	struct ivshmem_info info;
	long page = sysconf(_SC_PAGESIZE);
	uint32_t mode;
	void *p, *q;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(path);
		return 2;
	}
	check(ioctl(fd, IVSHMEM_IOC_INFO, &info) == 0, "IVSHMEM_IOC_INFO");
	printf("size %llu ivposition %u vectors %u variant %s\n",
	       (unsigned long long)info.size, info.ivposition, info.vectors,
	       info.variant ? "doorbell" : "plain");

	for (mode = IVSHMEM_CACHE_WB; mode <= IVSHMEM_CACHE_WC; mode++) {
		char msg[64];

		check(ioctl(fd, IVSHMEM_IOC_SET_CACHE, &mode) == 0, "SET_CACHE");
		p = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		snprintf(msg, sizeof(msg), "mmap whole BAR2 (%s)", names[mode]);
		check(p != MAP_FAILED, msg);
		if (p == MAP_FAILED)
			continue;
		ioctl(fd, IVSHMEM_IOC_INFO, &info);
		printf("     granted %s, first bytes: %.32s\n",
		       info.granted < 3 ? names[info.granted] : "?", (char *)p);
		munmap(p, info.size);
	}
	mode = 3;
	check(ioctl(fd, IVSHMEM_IOC_SET_CACHE, &mode) == -1 && errno == EINVAL,
	      "SET_CACHE 3 refused with EINVAL");

	refused(fd, info.size + page, MAP_SHARED, 0, EINVAL, "past the BAR");
	refused(fd, page, MAP_SHARED, info.size, EINVAL, "offset at the end");
	refused(fd, 2 * page, MAP_SHARED, info.size - page, EINVAL,
		"range straddling the end");
	refused(fd, page, MAP_PRIVATE, 0, EINVAL, "MAP_PRIVATE");
	/* vm_pgoff far past the BAR: must not wrap the bounds check */
	refused(fd, 2 * page, MAP_SHARED, (off_t)(INT64_MAX & ~(page - 1)),
		EINVAL, "offset near 2^63");

	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, page);
	check(p != MAP_FAILED, "mmap at offset one page");
	if (p != MAP_FAILED) {
		q = mremap(p, page, 2 * page, 0);
		check(q == MAP_FAILED && errno == EFAULT,
		      "mremap growth refused with EFAULT");
		q = mremap(p, page, 2 * page, MREMAP_MAYMOVE);
		check(q == MAP_FAILED && errno == EFAULT,
		      "mremap growth (MAYMOVE) refused with EFAULT");
		munmap(p, page);
	}
	if (info.variant == IVSHMEM_VARIANT_DOORBELL)
		doorbell(fd, &info);
	close(fd);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
