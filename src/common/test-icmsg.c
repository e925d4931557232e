/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/macro.h"

static const IcVersion fcopy_fw[] = { { 3, 0 } };
static const IcVersion fcopy_svc[] = { { 1, 1 } };

static uint16_t rd16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t rd32(const uint8_t *p, size_t off)
{
	return (uint32_t)rd16(p, off) | (uint32_t)rd16(p, off + 2) << 16;
}

static void wr16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

/*
 * Builds a host NEGOTIATE request as a Hyper-V host sends it: counts, then framework versions,
 * then service versions. Returns the payload length.
 */
static size_t build_negotiate(uint8_t *p, size_t cap, const IcVersion *fw, uint16_t fc,
			      const IcVersion *svc, uint16_t mc)
{
	size_t len = ICMSG_HDR + 8 + 4 * ((size_t)fc + mc);

	assert_true(len <= cap);
	memset(p, 0, cap);
	p[0] = 1; /* vmbuspipe_hdr.flags */
	wr16(p, ICMSG_OFF_VERFRAME, 1);
	wr16(p, ICMSG_OFF_MSGTYPE, ICMSGTYPE_NEGOTIATE);
	wr16(p, ICMSG_OFF_MSGSIZE, (uint16_t)(len - ICMSG_HDR));
	p[ICMSG_OFF_TRANSACTION_ID] = 0x42;
	p[ICMSG_OFF_FLAGS] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST;
	wr16(p, ICMSG_HDR, fc);
	wr16(p, ICMSG_HDR + 2, mc);
	for (size_t i = 0; i < fc; i++) {
		wr16(p, ICMSG_HDR + 8 + 4 * i, fw[i].major);
		wr16(p, ICMSG_HDR + 10 + 4 * i, fw[i].minor);
	}
	for (size_t i = 0; i < mc; i++) {
		wr16(p, ICMSG_HDR + 8 + 4 * (fc + i), svc[i].major);
		wr16(p, ICMSG_HDR + 10 + 4 * (fc + i), svc[i].minor);
	}
	return len;
}

static void test_parse_header(void **state)
{
	static const IcVersion v[] = { { 3, 0 }, { 1, 0 } };
	uint8_t p[64];
	IcMsgHeader h;
	size_t len = build_negotiate(p, sizeof(p), v, 1, v + 1, 1);

	p[ICMSG_OFF_STATUS] = 0x05;
	p[ICMSG_OFF_STATUS + 3] = 0x80;
	assert_int_equal(icmsg_parse_header(p, len, &h), 0);
	assert_int_equal(h.pipe_flags, 1);
	assert_int_equal(h.frame_version.major, 1);
	assert_int_equal(h.msgtype, ICMSGTYPE_NEGOTIATE);
	assert_int_equal(h.msgsize, 16);
	assert_int_equal(h.status, 0x80000005);
	assert_int_equal(h.transaction_id, 0x42);
	assert_int_equal(h.flags, ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);

	assert_int_equal(icmsg_parse_header(p, ICMSG_HDR - 1, &h), -EBADMSG);
	assert_int_equal(icmsg_parse_header(p, ICMSG_HDR, &h), 0);

	assert_int_equal(icmsg_set_response(p, ICMSG_HDR - 1, HV_E_FAIL), -EBADMSG);
	assert_int_equal(icmsg_set_response(p, ICMSG_HDR, HV_ERROR_DISK_FULL), 0);
	assert_int_equal(rd32(p, ICMSG_OFF_STATUS), HV_ERROR_DISK_FULL);
	assert_int_equal(p[ICMSG_OFF_FLAGS], 5);
}

static void test_negotiate_fcopy(void **state)
{
	/* Host offers several versions; ours (3.0 / 1.1) are not first in its lists. */
	static const IcVersion host_fw[] = { { 1, 0 }, { 3, 0 } };
	static const IcVersion host_svc[] = { { 1, 0 }, { 1, 1 }, { 2, 0 } };
	uint8_t p[128];
	IcVersion fw = { 0 }, svc = { 0 };
	size_t len = build_negotiate(p, sizeof(p), host_fw, 2, host_svc, 3);

	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc), 0);
	assert_int_equal(fw.major, 3);
	assert_int_equal(fw.minor, 0);
	assert_int_equal(svc.major, 1);
	assert_int_equal(svc.minor, 1);
	assert_int_equal(rd16(p, ICMSG_HDR), 1);
	assert_int_equal(rd16(p, ICMSG_HDR + 2), 1);
	assert_int_equal(rd16(p, ICMSG_HDR + 8), 3);
	assert_int_equal(rd16(p, ICMSG_HDR + 10), 0);
	assert_int_equal(rd16(p, ICMSG_HDR + 12), 1);
	assert_int_equal(rd16(p, ICMSG_HDR + 14), 1);
	assert_int_equal(rd16(p, ICMSG_OFF_MSGSIZE), 0x10);
	assert_int_equal(rd32(p, ICMSG_OFF_STATUS), HV_S_OK);
	assert_int_equal(p[ICMSG_OFF_FLAGS], ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE);
	assert_int_equal(p[ICMSG_OFF_TRANSACTION_ID], 0x42);
	assert_int_equal(rd16(p, ICMSG_OFF_MSGTYPE), ICMSGTYPE_NEGOTIATE);
}

static void test_negotiate_preference(void **state)
{
	/* Our order decides, not the host's: KVP-style 3.0, 1.0 and 4.0, 3.0, 1.0. */
	static const IcVersion ours_fw[] = { { 3, 0 }, { 1, 0 } };
	static const IcVersion ours_svc[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } };
	static const IcVersion host_fw[] = { { 1, 0 }, { 3, 0 } };
	static const IcVersion host_svc[] = { { 1, 0 }, { 3, 0 } };
	uint8_t p[128];
	IcVersion fw, svc;
	size_t len = build_negotiate(p, sizeof(p), host_fw, 2, host_svc, 2);

	assert_int_equal(icmsg_negotiate(p, len, ours_fw, 2, ours_svc, 3, &fw, &svc), 0);
	assert_int_equal(fw.major, 3);
	assert_int_equal(svc.major, 3);
	assert_int_equal(svc.minor, 0);
}

static void test_negotiate_no_match(void **state)
{
	static const IcVersion host_fw[] = { { 3, 0 } };
	static const IcVersion host_svc[] = { { 1, 0 }, { 2, 0 } };
	static const IcVersion host_fw_bad[] = { { 2, 0 } };
	uint8_t p[128];
	IcVersion fw = { 9, 9 }, svc = { 9, 9 };
	size_t len = build_negotiate(p, sizeof(p), host_fw, 1, host_svc, 2);

	/* Framework matches, service does not (1.1 is required exactly). */
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc),
			 -EPROTONOSUPPORT);
	assert_int_equal(rd16(p, ICMSG_HDR), 0);
	assert_int_equal(rd16(p, ICMSG_HDR + 2), 0);
	assert_int_equal(rd16(p, ICMSG_OFF_MSGSIZE), 0x10);
	assert_int_equal(rd32(p, ICMSG_OFF_STATUS), HV_E_FAIL);
	assert_int_equal(p[ICMSG_OFF_FLAGS], 5);
	assert_int_equal(fw.major, 9);
	assert_int_equal(svc.major, 9);

	/* No framework match. */
	len = build_negotiate(p, sizeof(p), host_fw_bad, 1, fcopy_svc, 1);
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc),
			 -EPROTONOSUPPORT);
	assert_int_equal(rd16(p, ICMSG_HDR), 0);
	assert_int_equal(rd32(p, ICMSG_OFF_STATUS), HV_E_FAIL);

	/* Host offers nothing at all. */
	len = build_negotiate(p, sizeof(p), NULL, 0, NULL, 0);
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc),
			 -EPROTONOSUPPORT);
}

static void test_negotiate_truncated(void **state)
{
	uint8_t p[128], copy[128];
	IcVersion fw, svc;
	size_t len = build_negotiate(p, sizeof(p), fcopy_fw, 1, fcopy_svc, 1);

	memcpy(copy, p, sizeof(p));
	/* Below the IC header: nothing can be answered, nothing is touched. */
	assert_int_equal(icmsg_negotiate(p, ICMSG_HDR - 1, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc),
			 -EBADMSG);
	assert_memory_equal(p, copy, sizeof(p));

	/* Header present but counts missing or versions cut short: failure reply, body intact. */
	for (size_t l = ICMSG_HDR; l < len; l++) {
		memcpy(p, copy, sizeof(p));
		assert_int_equal(icmsg_negotiate(p, l, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc),
				 -EBADMSG);
		assert_int_equal(rd32(p, ICMSG_OFF_STATUS), HV_E_FAIL);
		assert_int_equal(p[ICMSG_OFF_FLAGS], 5);
		assert_memory_equal(p + ICMSG_HDR, copy + ICMSG_HDR, sizeof(p) - ICMSG_HDR);
	}

	memcpy(p, copy, sizeof(p));
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc), 0);
}

static void test_negotiate_count_limit(void **state)
{
	static uint8_t p[ICMSG_HDR + 8 + 4 * 202];
	IcVersion many[101];
	IcVersion fw, svc;
	size_t len;

	for (size_t i = 0; i < ELEMENTSOF(many); i++)
		many[i] = (IcVersion){ (uint16_t)(i + 10), 0 };
	many[100] = fcopy_fw[0];

	/* 101 framework versions: refused although the buffer holds them all. */
	len = build_negotiate(p, sizeof(p), many, 101, fcopy_svc, 1);
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc), -EBADMSG);
	len = build_negotiate(p, sizeof(p), fcopy_fw, 1, many, 101);
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc), -EBADMSG);

	/* Exactly 100 is allowed; the match is the last framework entry. */
	many[99] = fcopy_fw[0];
	len = build_negotiate(p, sizeof(p), many, 100, fcopy_svc, 1);
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc), 0);
	assert_int_equal(fw.major, 3);

	/* Counts claiming more than the payload carries. */
	len = build_negotiate(p, sizeof(p), fcopy_fw, 1, fcopy_svc, 1);
	wr16(p, ICMSG_HDR + 2, 50);
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc), -EBADMSG);
	wr16(p, ICMSG_HDR, 0xffff);
	assert_int_equal(icmsg_negotiate(p, len, fcopy_fw, 1, fcopy_svc, 1, &fw, &svc), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_header),
		cmocka_unit_test(test_negotiate_fcopy),
		cmocka_unit_test(test_negotiate_preference),
		cmocka_unit_test(test_negotiate_no_match),
		cmocka_unit_test(test_negotiate_truncated),
		cmocka_unit_test(test_negotiate_count_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
