// The floors of the channel's benchmarks (bench/channel.mjs) on this machine:
// the same work done from C, between two processes, so that a JavaScript
// figure can be read against what the machine itself allows.
//
//   channel-floor ring SIZE COUNT REPS
//     A single-producer/single-consumer ring of 2 MiB in a shared mapping
//     (the channel's design without its checks: a record is an 8-byte header
//     and SIZE bytes, a record that does not fit before the end goes to the
//     start, the two counters on separate cache lines). The parent memcpy()s
//     COUNT records in, stamping the first and last byte; the child checks
//     those two bytes and frees the record. Both ends spin, never sleep.
//     Baseline: the same memcpy() and stamps into a private 2 MiB buffer.
//     With two CPUs or more, the parent runs on CPU 0 and the child on
//     CPU 1, as bench/channel.mjs pins the JavaScript ends.
//     -> {"ringMiBps": ..., "memcpyMiBps": ..., "ratio": ...} (medians of REPS)
//
//   channel-floor wake TRIPS
//     p50 round trip (µs) of a 64-byte ping-pong between two processes whose
//     ends sleep between messages: on a futex word in a shared mapping
//     (FUTEX_WAIT/FUTEX_WAKE, no spinning), and over two pipes (blocking
//     read/write).
//     -> {"futexP50Us": ..., "pipeP50Us": ..., "ratio": ...}
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define RING (2u << 20)

static void *shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

// Runs this process on `cpu`, when the machine has two CPUs or more.
static void pin(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

struct ring {
	_Alignas(64) _Atomic uint32_t head; // bytes published
	_Alignas(64) _Atomic uint32_t tail; // bytes freed
	_Alignas(64) _Atomic uint32_t go;   // the reader is ready
	_Alignas(64) unsigned char data[RING];
};

static uint32_t rec_size(uint32_t size)
{
	return 8 + ((size + 7) & ~7u);
}

static void ring_reader(struct ring *r, uint32_t size, long total)
{
	uint32_t tail = 0, head = 0, need = rec_size(size);

	atomic_store(&r->go, 1);
	for (long n = 0; n < total; n++) {
		uint32_t at = tail & (RING - 1), pad = RING - at < need ? RING - at : 0;

		while (head - tail < pad + need)
			head = atomic_load_explicit(&r->head, memory_order_acquire);
		tail += pad; // the record went to the start
		at = tail & (RING - 1);
		if (r->data[at + 8] != (unsigned char)n || r->data[at + 8 + size - 1] != (unsigned char)n) {
			fprintf(stderr, "record %ld is not what was written\n", n);
			exit(1);
		}
		tail += need;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
}

static void ring_mode(uint32_t size, long count, int reps)
{
	struct ring *r = shared(sizeof(*r));
	unsigned char *src = malloc(size), *dst = malloc(RING);
	double ring[64], copy[64];
	uint32_t head = 0, tail = 0, need = rec_size(size);
	pid_t child;

	if (reps > 64 || !src || !dst)
		exit(2);
	for (uint32_t i = 0; i < size; i++)
		src[i] = i * 7;
	memset(dst, 0, RING);
	memset(r->data, 0, RING);
	child = fork();
	if (child == 0) {
		pin(1);
		ring_reader(r, size, count * (reps + 1));
		_exit(0);
	}
	pin(0);
	while (!atomic_load(&r->go))
		;
	for (int rep = -1; rep < reps; rep++) {
		double t0 = now_ns(), t1;

		for (long n = (rep + 1) * count, off = 0; n < (rep + 2) * count; n++, off = (off + size) % (RING - size)) {
			memcpy(dst + off, src, size);
			dst[off] = dst[off + size - 1] = (unsigned char)n;
		}
		t1 = now_ns();
		for (long n = (rep + 1) * count; n < (rep + 2) * count; n++) {
			uint32_t at = head & (RING - 1), pad = RING - at < need ? RING - at : 0;

			while (RING - (head - tail) < pad + need)
				tail = atomic_load_explicit(&r->tail, memory_order_acquire);
			head += pad;
			at = head & (RING - 1);
			memcpy(r->data + at + 8, src, size);
			r->data[at + 8] = r->data[at + 8 + size - 1] = (unsigned char)n;
			head += need;
			atomic_store_explicit(&r->head, head, memory_order_release);
		}
		while (atomic_load(&r->tail) != head)
			; // until the reader has checked the last
		if (rep >= 0) {
			copy[rep] = t1 - t0;
			ring[rep] = now_ns() - t1;
		}
	}
	waitpid(child, NULL, 0);
	double mc = median(copy, reps), rg = median(ring, reps), mib = (double)size * count / (1 << 20);
	printf("{\"ringMiBps\": %.0f, \"memcpyMiBps\": %.0f, \"ratio\": %.4f}\n", mib / (rg / 1e9), mib / (mc / 1e9), mc / rg);
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

// Sleeps until *word is set, then clears it.
static void sleep_on(_Atomic uint32_t *word)
{
	while (atomic_load(word) == 0)
		futex(word, FUTEX_WAIT, 0);
	atomic_store(word, 0);
}

static void wake(_Atomic uint32_t *word)
{
	atomic_store(word, 1);
	futex(word, FUTEX_WAKE, 1);
}

static double p50_us(double *t, int n)
{
	return median(t, n) / 1e3;
}

static void wake_mode(int trips)
{
	struct {
		_Alignas(64) _Atomic uint32_t down;
		_Alignas(64) _Atomic uint32_t up;
		_Alignas(64) unsigned char msg[2][64];
	} *s = shared(sizeof(*s));
	double *t = calloc(trips, sizeof(*t));
	unsigned char buf[64] = { 5 };
	int a[2], b[2];
	double futex_us, pipe_us;
	pid_t child;

	if (!t || pipe(a) || pipe(b))
		exit(1);
	child = fork();
	if (child == 0) {
		close(a[1]); // so that the parent's close ends the echo
		for (int i = 0; i < 100 + trips; i++) {
			sleep_on(&s->down);
			memcpy(s->msg[1], s->msg[0], 64);
			wake(&s->up);
		}
		for (;;) {
			ssize_t n = read(a[0], buf, 64);

			if (n <= 0 || write(b[1], buf, n) != n)
				_exit(0);
		}
	}
	for (int i = -100; i < trips; i++) {
		double t0 = now_ns();

		memcpy(s->msg[0], buf, 64);
		wake(&s->down);
		sleep_on(&s->up);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	futex_us = p50_us(t, trips);
	for (int i = -100; i < trips; i++) {
		double t0 = now_ns();

		if (write(a[1], buf, 64) != 64)
			exit(1);
		for (ssize_t got = 0, n; got < 64; got += n)
			if ((n = read(b[0], buf + got, 64 - got)) <= 0)
				exit(1);
		if (i >= 0)
			t[i] = now_ns() - t0;
	}
	pipe_us = p50_us(t, trips);
	close(a[1]);
	waitpid(child, NULL, 0);
	printf("{\"futexP50Us\": %.2f, \"pipeP50Us\": %.2f, \"ratio\": %.4f}\n", futex_us, pipe_us, futex_us / pipe_us);
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "ring"))
		ring_mode(strtoul(argv[2], NULL, 0), atol(argv[3]), atoi(argv[4]));
	else if (argc == 3 && !strcmp(argv[1], "wake"))
		wake_mode(atoi(argv[2]));
	else
		return 2;
	return 0;
}
