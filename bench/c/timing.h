// The clock and the median of the C floors in bench/c/ (header-only).
#ifndef DEVMAP_BENCH_TIMING_H
#define DEVMAP_BENCH_TIMING_H

#include <stdlib.h>
#include <time.h>

static inline double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

// Sorts xs in place; its middle element.
static inline double median(double *xs, int n)
{
	qsort(xs, n, sizeof(*xs), cmp_double);
	return xs[n / 2];
}

#endif
