/* SPDX-License-Identifier: MIT */
/*
 * fcopy message codec (hyperv-abi.md §8). Two transports carry the same host bodies:
 *
 *  - char device /dev/vmbus/hv_fcopy (kernels < 6.10, §8.2): the kernel hands over the host
 *    body (struct hv_fcopy_hdr first) but has already converted START's names to UTF-8 inside
 *    the __u16[260] arrays; COMPLETE/CANCEL arrive with an over-long length (kernel quirk).
 *    Replies are one 4-byte native int status.
 *  - uio (kernels >= 6.10, §8.6): the body follows the 28-byte IC header; names are UTF-16LE.
 *    The reply status goes into the IC header (icmsg module), not here.
 *
 * Body layout (little endian, packed): hv_fcopy_hdr (36 bytes) = operation u32 @0,
 * service_id0[16] @4, service_id1[16] @20. hv_start_fcopy (1088) = hdr, file_name @36,
 * path_name @556 (260 units each), copy_flags u32 @1076, file_size u64 @1080. hv_do_fcopy
 * (6196) = hdr, pad u32 @36, offset u64 @40, size u32 @48, data[6144] @52.
 *
 * Checks done here (host input the codec can judge on its own):
 *  - lengths: body shorter than the op's fixed part -> -EBADMSG; longer is accepted (chardev
 *    COMPLETE/CANCEL quirk, ring padding). WRITE needs only its 52-byte fixed part plus `size`
 *    data bytes, so a host that trims the unused tail of data[] is accepted;
 *  - WRITE: size > 6144 or size > bytes present after offset 52 -> -EINVAL;
 *  - unknown operation -> -EOPNOTSUPP;
 *  - names: a name not NUL-terminated within its 260-unit array -> -ENAMETOOLONG; invalid
 *    UTF-16 (uio) or invalid UTF-8 (chardev) -> -EILSEQ; empty file_name, file_name "." or
 *    "..", '/' in file_name, a path_name not starting with '/', or any control character
 *    (U+0001-U+001F, U+007F) in either name -> -EINVAL.
 * Left to the transfer module (it needs the filesystem): ".." and "." components of
 * path_name, symlinks, the length of "path/file" against PATH_MAX, copy_flags semantics
 * (unknown flag bits are passed through unchanged), and the START/WRITE/COMPLETE sequencing.
 * Pure: no I/O, no logging.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#define FCOPY_HDR_SIZE 36u
#define FCOPY_START_SIZE 1088u
#define FCOPY_START_FILE_NAME_OFFSET 36u
#define FCOPY_START_PATH_NAME_OFFSET 556u
#define FCOPY_START_COPY_FLAGS_OFFSET 1076u
#define FCOPY_START_FILE_SIZE_OFFSET 1080u
#define FCOPY_WRITE_OFFSET_OFFSET 40u
#define FCOPY_WRITE_SIZE_OFFSET 48u
#define FCOPY_WRITE_DATA_OFFSET 52u
#define FCOPY_WRITE_SIZE 6196u
/* DATA_FRAGMENT: the most data bytes one WRITE_TO_FILE carries. */
#define FCOPY_DATA_FRAGMENT 6144u
/* W_MAX_PATH: UTF-16 units per name array, NUL included (so at most 259 characters). */
#define FCOPY_W_MAX_PATH 260u
/*
 * UTF-8 buffer for one name: 259 units of up to 3 bytes each (a surrogate pair is 2 units ->
 * 4 bytes, less per unit), plus the NUL. Also holds the 520-byte chardev arrays.
 */
#define FCOPY_NAME_SIZE (3u * (FCOPY_W_MAX_PATH - 1u) + 1u)
/* Read buffer for the char device: the largest message (WRITE_TO_FILE). */
#define FCOPY_CHARDEV_MSG_MAX FCOPY_WRITE_SIZE
/* Daemon -> kernel on the char device: one native int, both handshake and status. */
#define FCOPY_CHARDEV_REPLY_SIZE 4u

/* copy_flags bits. */
#define FCOPY_FLAG_OVER_WRITE 0x1u
#define FCOPY_FLAG_CREATE_PATH 0x2u

/* Char-device handshake versions (§8.2). */
#define FCOPY_VERSION_0 0u
#define FCOPY_VERSION_1 1u

typedef enum FcopyOp {
	FCOPY_OP_START_FILE_COPY = 0,
	FCOPY_OP_WRITE_TO_FILE = 1,
	FCOPY_OP_COMPLETE = 2,
	FCOPY_OP_CANCEL = 3,
	_FCOPY_OP_MAX,
	_FCOPY_OP_INVALID = -EINVAL,
} FcopyOp;

typedef struct FcopyRequest {
	FcopyOp op;
	/* START only: NUL-terminated, valid UTF-8; empty for other ops. */
	char file_name[FCOPY_NAME_SIZE];
	char path_name[FCOPY_NAME_SIZE];
	uint32_t copy_flags; /* START: FCOPY_FLAG_* bits as sent */
	uint64_t file_size;  /* START: announced size in bytes (informational only) */
	uint64_t offset;     /* WRITE: byte offset in the target file */
	uint32_t size;	     /* WRITE: data bytes, <= FCOPY_DATA_FRAGMENT */
	const uint8_t *data; /* WRITE: points into the caller's buffer (size bytes); else NULL */
} FcopyRequest;

/*
 * Decodes a char-device message (kernel < 6.10). buf/len is what read() returned. Names are
 * already UTF-8 inside the arrays. On success fills *ret (data points into buf) and returns 0;
 * on error returns a negative errno (see the list above) and leaves *ret untouched.
 */
int fcopy_msg_decode_chardev(const void *buf, size_t len, FcopyRequest *ret);

/*
 * Decodes an fcopy body received over uio, i.e. the bytes after the 28-byte IC header. Names
 * are UTF-16LE. Same results and errors as fcopy_msg_decode_chardev().
 */
int fcopy_msg_decode_ic(const void *body, size_t len, FcopyRequest *ret);

/* Writes the 4-byte handshake (FCOPY_VERSION_1, native int) into buf. */
void fcopy_msg_build_chardev_register(void *buf);

/*
 * Checks the kernel's 4-byte handshake reply: 0 for version 1, -EBADMSG for a wrong length,
 * -EPROTO for another version.
 */
int fcopy_msg_parse_chardev_register_reply(const void *buf, size_t len);

/* Writes the 4-byte status reply (an HV_* code as a native int) into buf. */
void fcopy_msg_build_chardev_reply(void *buf, uint32_t status);

/* "START_FILE_COPY", "WRITE_TO_FILE", "COMPLETE", "CANCEL", or "unknown". Never NULL. */
const char *fcopy_op_to_string(FcopyOp op);
