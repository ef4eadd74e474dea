// SPDX-License-Identifier: MIT
/*
 * Smoke test of /dev/edu0 from C, independent of Node: registers, a DMA
 * round trip, the range checks, mapping lifetime, the busy/timeout path and
 * a leak check. Exit status 0 when every check passed.
 * Usage: smoke [/dev/edu0]
 *        smoke /dev/edu0 unbind /sys/bus/pci/drivers/devmap_edu/unbind BDF
 *        (rmmod refused while mapped; unbind while mapped is safe)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devmap_edu.h"

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			failures++;                                            \
			printf("FAIL %s:%d: ", __FILE__, __LINE__);            \
			printf(__VA_ARGS__);                                   \
			printf(" (errno %d %s)\n", errno, strerror(errno));    \
		}                                                              \
	} while (0)

static struct edu_alloc alloc_buf(int fd, uint64_t size)
{
	struct edu_alloc a = { .size = size };

	CHECK(ioctl(fd, EDU_IOC_ALLOC, &a) == 0, "alloc %llu", (unsigned long long)size);
	return a;
}

static uint8_t *map_buf(int fd, const struct edu_alloc *a)
{
	void *p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, a->offset);

	CHECK(p != MAP_FAILED, "mmap id %u", a->id);
	return p == MAP_FAILED ? NULL : p;
}

static int xfer(int fd, uint32_t id, uint32_t dir, uint64_t off, uint32_t len,
		uint32_t dev_off, uint32_t timeout_ms)
{
	struct edu_xfer x = { .id = id, .dir = dir, .offset = off, .length = len,
			      .dev_offset = dev_off, .timeout_ms = timeout_ms };

	/* from-device through write() (the path Node uses), to-device by ioctl */
	if (dir == EDU_FROM_DEVICE)
		return write(fd, &x, sizeof(x)) == sizeof(x) ? 0 : -errno;
	return ioctl(fd, EDU_IOC_DMA, &x) == 0 ? 0 : -errno;
}

static void print_vmflags(void *addr)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)) == 0)
			in = 1, printf("vma: %s", line);
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			printf("%s", line);
			break;
		}
	}
	if (f)
		fclose(f);
}

static struct edu_stats stats(int fd)
{
	struct edu_stats s = { 0 };

	CHECK(ioctl(fd, EDU_IOC_STATS, &s) == 0, "stats");
	return s;
}

static int unbind(const char *path, const char *unbind_file, const char *bdf)
{
	struct edu_alloc a;
	uint8_t *p;
	int fd = open(path, O_RDWR), u;

	if (fd < 0)
		return perror(path), 2;
	a = alloc_buf(fd, 4096);
	p = map_buf(fd, &a);
	if (!p)
		return 1;
	memset(p, 0x5a, 4096);
	close(fd);	/* the mapping alone holds the file and the module */
	errno = 0;
	CHECK(syscall(SYS_delete_module, "devmap_edu", O_NONBLOCK) < 0 &&
	      (errno == EWOULDBLOCK || errno == EBUSY), "rmmod refused while mapped");
	u = open(unbind_file, O_WRONLY);
	CHECK(u >= 0 && write(u, bdf, strlen(bdf)) == (ssize_t)strlen(bdf), "unbind %s", bdf);
	close(u);
	CHECK(p[4095] == 0x5a, "mapping valid after unbind");
	fd = open(path, O_RDWR);
	CHECK(fd < 0 && errno == ENOENT, "node gone after unbind");
	munmap(p, 4096);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/edu0";
	struct edu_info info;
	struct edu_word w;
	struct edu_alloc a, b;
	struct edu_stats s0, s1;
	uint8_t *pa, *pb;
	int fd, i, rc;
	static const uint32_t fact[] = { 1, 1, 2, 6, 24, 120, 720, 5040, 40320,
					 362880, 3628800, 39916800, 479001600 };

	if (argc == 5 && strcmp(argv[2], "unbind") == 0)
		return unbind(path, argv[3], argv[4]);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 2;
	}
	CHECK(ioctl(fd, EDU_IOC_INFO, &info) == 0, "info");
	printf("ident %#x irq_mode %u dma_mask %#llx window %u\n", info.ident,
	       info.irq_mode, (unsigned long long)info.dma_mask, info.window);
	w.in = 0x12345678;
	CHECK(ioctl(fd, EDU_IOC_LIVENESS, &w) == 0 && w.out == ~0x12345678u, "liveness %#x", w.out);
	for (i = 0; i <= 12; i++) {
		w.in = i;
		CHECK(ioctl(fd, EDU_IOC_FACTORIAL, &w) == 0 && w.out == fact[i], "%d! = %u", i, w.out);
	}

	s0 = stats(fd);
	a = alloc_buf(fd, 8192);
	b = alloc_buf(fd, 100);
	printf("buffers: id %u off %#llx dma %#llx size %llu; id %u size %llu\n", a.id,
	       (unsigned long long)a.offset, (unsigned long long)a.dma_addr,
	       (unsigned long long)a.size, b.id, (unsigned long long)b.size);
	CHECK(b.size == 4096, "size rounded to a page");
	pa = map_buf(fd, &a);
	pb = map_buf(fd, &b);
	if (!pa || !pb)
		return 1;
	print_vmflags(pa);
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, a.offset) == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE refused");
	CHECK(mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, fd, a.offset) == MAP_FAILED && errno == EINVAL, "mmap past the end refused");
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)999 << EDU_OFF_SHIFT) == MAP_FAILED && errno == EINVAL, "unknown buffer refused");

	/* Round trip of the whole usable window: [0, 4095). */
	for (i = 0; i < 8192; i++)
		pa[i] = (uint8_t)(i * 7 + 3);
	CHECK((rc = xfer(fd, a.id, EDU_TO_DEVICE, 100, EDU_DEV_WINDOW, 0, 0)) == 0, "to device: %d", rc);
	CHECK((rc = xfer(fd, b.id, EDU_FROM_DEVICE, 0, 4095, 0, 0)) == 0, "from device: %d", rc);
	CHECK(memcmp(pa + 100, pb, 4095) == 0, "round trip bytes equal");
	CHECK(xfer(fd, a.id, EDU_TO_DEVICE, 0, 2, 4094, 0) == -EINVAL, "range touching 4095 refused");
	CHECK(xfer(fd, a.id, EDU_TO_DEVICE, 0, 1, 4095, 0) == -EINVAL, "device offset 4095 refused");
	CHECK(xfer(fd, a.id, EDU_TO_DEVICE, 8000, 193, 0, 0) == -EINVAL, "past buffer end refused");
	CHECK(xfer(fd, a.id, EDU_TO_DEVICE, ~0ull, 2, 0, 0) == -EINVAL, "offset overflow refused");
	CHECK(xfer(fd, a.id, EDU_TO_DEVICE, 0, 0, 0, 0) == -EINVAL, "zero length refused");
	CHECK(xfer(fd, 999, EDU_TO_DEVICE, 0, 1, 0, 0) == -ENOENT, "unknown buffer refused");

	/* A transfer that times out keeps the engine (and its buffer) busy. */
	rc = xfer(fd, a.id, EDU_TO_DEVICE, 0, 16, 0, 1);
	CHECK(rc == -ETIMEDOUT, "1 ms timeout: %d", rc);
	rc = xfer(fd, a.id, EDU_TO_DEVICE, 0, 16, 0, 0);
	CHECK(rc == -EBUSY, "busy after timeout: %d", rc);
	usleep(300 * 1000);
	CHECK(xfer(fd, a.id, EDU_TO_DEVICE, 0, 16, 0, 0) == 0, "idle again");

	/* Freed while mapped: the mapping stays valid. */
	CHECK(ioctl(fd, EDU_IOC_FREE, a.id) == 0, "free");
	CHECK(ioctl(fd, EDU_IOC_FREE, a.id) < 0 && errno == ENOENT, "double free refused");
	s1 = stats(fd);
	CHECK(s1.freed == s0.freed, "not freed while mapped");
	CHECK(pa[5000] == (uint8_t)(5000 * 7 + 3), "still readable");
	munmap(pa, a.size);
	s1 = stats(fd);
	CHECK(s1.freed == s0.freed + 1, "freed at munmap");

	/* fd closed while mapped: still valid, freed at munmap. */
	close(fd);
	pb[0] ^= 0xff;
	fd = open(path, O_RDWR);
	s1 = stats(fd);
	CHECK(s1.freed == s0.freed + 1, "b alive after close");
	munmap(pb, b.size);
	s1 = stats(fd);
	CHECK(s1.freed == s0.freed + 2 && s1.live_bytes == s0.live_bytes, "b freed after munmap");

	for (i = 0; i < 1000; i++) {
		a = alloc_buf(fd, 4096 * (1 + i % 4));
		pa = map_buf(fd, &a);
		if (pa) {
			pa[0] = 1;
			munmap(pa, a.size);
		}
		CHECK(ioctl(fd, EDU_IOC_FREE, a.id) == 0, "free %d", i);
	}
	s1 = stats(fd);
	printf("stats: allocated %llu freed %llu live_bytes %llu transfers %llu timeouts %llu irqs %llu\n",
	       (unsigned long long)s1.allocated, (unsigned long long)s1.freed,
	       (unsigned long long)s1.live_bytes, (unsigned long long)s1.transfers,
	       (unsigned long long)s1.timeouts, (unsigned long long)s1.irqs);
	CHECK(s1.allocated - s1.freed == s0.allocated - s0.freed && s1.live_bytes == s0.live_bytes, "no leak");
	close(fd);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
