/* SPDX-License-Identifier: MIT */
/*
 * Large growable memory blocks for the KVP pool store (internal to src/kvp).
 *
 * Blocks from KVP_BLOCK_MAP_MIN bytes on get a private mapping of their own: growing one is
 * an mremap() without copying, and freeing or shrinking one gives its pages back at once.
 * Heap blocks that size would leave holes as pool versions are copied and dropped, and the
 * heap keeps its holes resident. Smaller blocks live on the heap. A block is known by its
 * pointer and its capacity, which the caller keeps.
 */
#pragma once

#include <stddef.h>

/*
 * Under AddressSanitizer everything stays on the heap, where overflows are caught.
 */
#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define KVP_BLOCK_MAP_MIN SIZE_MAX
#elif defined(__has_feature) /* clang */
#if __has_feature(address_sanitizer)
#define KVP_BLOCK_MAP_MIN SIZE_MAX
#endif
#endif
#ifndef KVP_BLOCK_MAP_MIN
#define KVP_BLOCK_MAP_MIN (64u * 1024u)
#endif

/*
 * Maps the pages of p[0..len) in one call if len is at least 64 KiB: a fault per 4 KiB page
 * costs up to 10 us in some VMs, which would dominate loading a 5,000-record pool. Best
 * effort, for any memory (heap or block).
 */
void kvp_prefault(void *p, size_t len);

/* The capacity a block of at least size bytes really gets: mappings are whole pages. */
size_t kvp_block_size(size_t size);

/* Frees a block of capacity cap (as returned by kvp_block_size()). NULL is fine. */
void kvp_block_free(void *p, size_t cap);

/*
 * Resizes a block (p NULL: allocates one) from capacity cap to new_cap > 0, both from
 * kvp_block_size(), keeping the first MIN(cap, new_cap) bytes. NULL on failure, p untouched.
 */
void *kvp_block_resize(void *p, size_t cap, size_t new_cap);
