/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fcopy/fcopy-msg.h"
#include "fcopy/utf16.h"

_Static_assert(sizeof(int) == FCOPY_CHARDEV_REPLY_SIZE, "the kernel exchanges 4-byte ints");

/* Bytes per name array in the host struct: 260 UTF-16 units. */
#define NAME_ARRAY_BYTES (2u * FCOPY_W_MAX_PATH)

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Chardev: the kernel wrote UTF-8 into the __u16 array; the NUL must be inside the array. */
static int name_from_utf8_array(const uint8_t *arr, char *dst)
{
	const uint8_t *nul = memchr(arr, 0, NAME_ARRAY_BYTES);
	size_t n;

	if (!nul)
		return -ENAMETOOLONG;
	n = (size_t)(nul - arr);
	if (!utf8_is_valid((const char *)arr, n))
		return -EILSEQ;
	/* n < 520 < FCOPY_NAME_SIZE, so the copy and its NUL always fit. */
	memcpy(dst, arr, n);
	dst[n] = '\0';
	return 0;
}

/* uio: UTF-16LE, NUL-terminated within the 260 units. */
static int name_from_utf16_array(const uint8_t *arr, char *dst)
{
	int r;

	if (utf16le_strnlen(arr, FCOPY_W_MAX_PATH) >= FCOPY_W_MAX_PATH)
		return -ENAMETOOLONG;
	r = utf16le_to_utf8(arr, FCOPY_W_MAX_PATH, dst, FCOPY_NAME_SIZE);
	return r < 0 ? r : 0;
}

static bool has_control_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* The name checks that need no filesystem; see the header for what is left to the caller. */
static int check_names(const char *file_name, const char *path_name)
{
	if (file_name[0] == '\0' || strchr(file_name, '/') || strcmp(file_name, ".") == 0 ||
	    strcmp(file_name, "..") == 0)
		return -EINVAL;
	if (path_name[0] != '/')
		return -EINVAL;
	if (has_control_char(file_name) || has_control_char(path_name))
		return -EINVAL;
	return 0;
}

static int decode_start(const uint8_t *b, size_t len, bool utf16, FcopyRequest *req)
{
	int r;

	if (len < FCOPY_START_SIZE)
		return -EBADMSG;
	if (utf16) {
		r = name_from_utf16_array(b + FCOPY_START_FILE_NAME_OFFSET, req->file_name);
		if (r < 0)
			return r;
		r = name_from_utf16_array(b + FCOPY_START_PATH_NAME_OFFSET, req->path_name);
	} else {
		r = name_from_utf8_array(b + FCOPY_START_FILE_NAME_OFFSET, req->file_name);
		if (r < 0)
			return r;
		r = name_from_utf8_array(b + FCOPY_START_PATH_NAME_OFFSET, req->path_name);
	}
	if (r < 0)
		return r;
	r = check_names(req->file_name, req->path_name);
	if (r < 0)
		return r;
	req->copy_flags = get_le32(b + FCOPY_START_COPY_FLAGS_OFFSET);
	req->file_size = get_le64(b + FCOPY_START_FILE_SIZE_OFFSET);
	return 0;
}

static int decode_write(const uint8_t *b, size_t len, FcopyRequest *req)
{
	uint32_t size;

	if (len < FCOPY_WRITE_DATA_OFFSET)
		return -EBADMSG;
	size = get_le32(b + FCOPY_WRITE_SIZE_OFFSET);
	/* Upstream's uio daemon trusted size and let pwrite read past the packet (§8.6). */
	if (size > FCOPY_DATA_FRAGMENT || size > len - FCOPY_WRITE_DATA_OFFSET)
		return -EINVAL;
	req->offset = get_le64(b + FCOPY_WRITE_OFFSET_OFFSET);
	req->size = size;
	req->data = b + FCOPY_WRITE_DATA_OFFSET;
	return 0;
}

static int decode(const void *buf, size_t len, bool utf16, FcopyRequest *ret)
{
	const uint8_t *b = buf;
	FcopyRequest req = { .op = _FCOPY_OP_INVALID };
	uint32_t op;
	int r;

	if (len < FCOPY_HDR_SIZE)
		return -EBADMSG;
	op = get_le32(b);
	if (op >= _FCOPY_OP_MAX)
		return -EOPNOTSUPP;
	req.op = (FcopyOp)op;
	switch (req.op) {
	case FCOPY_OP_START_FILE_COPY:
		r = decode_start(b, len, utf16, &req);
		break;
	case FCOPY_OP_WRITE_TO_FILE:
		r = decode_write(b, len, &req);
		break;
	case FCOPY_OP_COMPLETE:
	case FCOPY_OP_CANCEL:
		/* Header only; any extra length is the chardev over-read quirk or padding. */
		r = 0;
		break;
	case _FCOPY_OP_MAX:
	case _FCOPY_OP_INVALID:
		r = -EOPNOTSUPP;
		break;
	}
	if (r < 0)
		return r;
	*ret = req;
	return 0;
}

int fcopy_msg_decode_chardev(const void *buf, size_t len, FcopyRequest *ret)
{
	return decode(buf, len, false, ret);
}

int fcopy_msg_decode_ic(const void *body, size_t len, FcopyRequest *ret)
{
	return decode(body, len, true, ret);
}

void fcopy_msg_build_chardev_register(void *buf)
{
	int v = FCOPY_VERSION_1;

	memcpy(buf, &v, sizeof(v));
}

int fcopy_msg_parse_chardev_register_reply(const void *buf, size_t len)
{
	int v;

	if (len != FCOPY_CHARDEV_REPLY_SIZE)
		return -EBADMSG;
	memcpy(&v, buf, sizeof(v));
	return v == FCOPY_VERSION_1 ? 0 : -EPROTO;
}

void fcopy_msg_build_chardev_reply(void *buf, uint32_t status)
{
	/* The kernel reads an int in host byte order; HV_* codes are its u32 bit patterns. */
	memcpy(buf, &status, sizeof(status));
}

const char *fcopy_op_to_string(FcopyOp op)
{
	static const char *const names[_FCOPY_OP_MAX] = {
		[FCOPY_OP_START_FILE_COPY] = "START_FILE_COPY",
		[FCOPY_OP_WRITE_TO_FILE] = "WRITE_TO_FILE",
		[FCOPY_OP_COMPLETE] = "COMPLETE",
		[FCOPY_OP_CANCEL] = "CANCEL",
	};

	if (op < 0 || op >= _FCOPY_OP_MAX)
		return "unknown";
	return names[op];
}
