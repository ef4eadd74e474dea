// The floor of a map + unmap cycle on this machine: mmap(2) + munmap(2) of
// FILE (LEN bytes, MAP_SHARED, read-write) from C, mmap alone, and what
// mapFile() + unmap() does -- open(2), fstat(2), mmap(2), close(2),
// munmap(2) -- in ns per op (medians of 9 reps of N). bench/host.mjs
// compiles and runs it.
//   map-cycle FILE LEN N
//     ->  {"mmapMunmapNs": ..., "mmapNs": ..., "openMmapMunmapNs": ...}
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timing.h"

int main(int argc, char **argv)
{
	enum { REPS = 9 };
	double cycle[REPS], map[REPS], full[REPS];
	size_t len;
	void **ps;
	int fd, n;

	if (argc != 4)
		return 2;
	fd = open(argv[1], O_RDWR);
	len = strtoul(argv[2], NULL, 0);
	n = atoi(argv[3]);
	ps = calloc(n, sizeof(*ps));
	if (fd < 0 || !ps || n <= 0)
		return 1;
	for (int r = 0; r < REPS; r++) {
		double t0 = now_ns();

		for (int i = 0; i < n; i++) {
			void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			if (p == MAP_FAILED || munmap(p, len))
				return 1;
		}
		cycle[r] = (now_ns() - t0) / n;
		t0 = now_ns();
		for (int i = 0; i < n; i++)
			if ((ps[i] = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
				return 1;
		map[r] = (now_ns() - t0) / n;
		for (int i = 0; i < n; i++)
			munmap(ps[i], len);
		t0 = now_ns();
		for (int i = 0; i < n; i++) {
			int f = open(argv[1], O_RDWR | O_CLOEXEC);
			struct stat st;
			void *p;

			if (f < 0 || fstat(f, &st))
				return 1;
			p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
			close(f);
			if (p == MAP_FAILED || munmap(p, len))
				return 1;
		}
		full[r] = (now_ns() - t0) / n;
	}
	printf("{\"mmapMunmapNs\": %.1f, \"mmapNs\": %.1f, \"openMmapMunmapNs\": %.1f}\n",
	       median(cycle, REPS), median(map, REPS), median(full, REPS));
	return 0;
}
