/* SPDX-License-Identifier: MIT */
/*
 * Large growable memory blocks: heap below KVP_BLOCK_MAP_MIN, private mappings from there
 * on (see kvp-block.h for why).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/macro.h"
#include "kvp/kvp-block.h"

void kvp_prefault(void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);

	if (len >= 64 * 1024 && end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

size_t kvp_block_size(size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return size < KVP_BLOCK_MAP_MIN ? size : (size + page - 1) & ~(page - 1);
}

void kvp_block_free(void *p, size_t cap)
{
	if (!p)
		return;
	if (cap >= KVP_BLOCK_MAP_MIN)
		(void)munmap(p, cap);
	else
		free(p);
}

void *kvp_block_resize(void *p, size_t cap, size_t new_cap)
{
	void *n;

	if (p && cap >= KVP_BLOCK_MAP_MIN && new_cap >= KVP_BLOCK_MAP_MIN) {
		n = mremap(p, cap, new_cap, MREMAP_MAYMOVE);
		return n == MAP_FAILED ? NULL : n;
	}
	if (cap < KVP_BLOCK_MAP_MIN && new_cap < KVP_BLOCK_MAP_MIN)
		return realloc(p, new_cap);
	if (new_cap >= KVP_BLOCK_MAP_MIN) {
		n = mmap(NULL, new_cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (n == MAP_FAILED)
			return NULL;
	} else {
		n = malloc(new_cap);
		if (!n)
			return NULL;
	}
	if (p)
		memcpy(n, p, MIN(cap, new_cap));
	kvp_block_free(p, cap);
	return n;
}
