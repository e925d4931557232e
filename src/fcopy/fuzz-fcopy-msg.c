/* SPDX-License-Identifier: MIT */
/*
 * fcopy bodies on both transports, arbitrary bytes: never crash, and on success the request
 * obeys the codec's promises (terminated valid UTF-8 names, size <= 6144, data in the input).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fcopy/fcopy-msg.h"
#include "fcopy/utf16.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const FcopyRequest *r, const uint8_t *data, size_t size)
{
	size_t fl = strnlen(r->file_name, sizeof(r->file_name));
	size_t pl = strnlen(r->path_name, sizeof(r->path_name));

	assert(r->op >= 0 && r->op < _FCOPY_OP_MAX);
	assert(fl < sizeof(r->file_name) && pl < sizeof(r->path_name));
	assert(utf8_is_valid(r->file_name, fl) && utf8_is_valid(r->path_name, pl));
	assert(r->size <= FCOPY_DATA_FRAGMENT);
	switch (r->op) {
	case FCOPY_OP_START_FILE_COPY:
		assert(size >= FCOPY_START_SIZE);
		assert(fl > 0 && !strchr(r->file_name, '/') && r->path_name[0] == '/');
		assert(r->data == NULL);
		break;
	case FCOPY_OP_WRITE_TO_FILE:
		assert(r->data >= data + FCOPY_WRITE_DATA_OFFSET);
		assert((size_t)(r->data - data) + r->size <= size);
		assert(fl == 0 && pl == 0);
		break;
	case FCOPY_OP_COMPLETE:
	case FCOPY_OP_CANCEL:
		assert(size >= FCOPY_HDR_SIZE && r->data == NULL && r->size == 0);
		break;
	case _FCOPY_OP_MAX:
	case _FCOPY_OP_INVALID:
		assert(0);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[FCOPY_NAME_SIZE];
	FcopyRequest r;

	if (fcopy_msg_decode_chardev(data, size, &r) == 0)
		check(&r, data, size);
	if (fcopy_msg_decode_ic(data, size, &r) == 0)
		check(&r, data, size);
	/* The converter alone, with a small output buffer to exercise the size check. */
	if (utf16le_to_utf8(data, size / 2, out, size % 64) >= 0)
		assert(strlen(out) < size % 64 && utf8_is_valid(out, strlen(out)));
	return 0;
}
