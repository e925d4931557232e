/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for IC negotiation: arbitrary payloads (copied into an exactly sized heap
 * buffer) are negotiated against the fcopy and KVP version tables. Checks that the reply obeys
 * §2.3: success means counts 1/1 and the chosen versions are ours and were offered; any reply
 * carries icflags 5; nothing beyond the payload is touched.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/hv-status.h"
#include "common/icmsg.h"
#include "common/macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const IcVersion fcopy_fw[] = { { 3, 0 } };
static const IcVersion fcopy_svc[] = { { 1, 1 } };
static const IcVersion kvp_fw[] = { { 3, 0 }, { 1, 0 } };
static const IcVersion kvp_svc[] = { { 4, 0 }, { 3, 0 }, { 1, 0 } };

static uint16_t rd16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static bool offered(const uint8_t *in, size_t first, size_t count, IcVersion v)
{
	for (size_t i = 0; i < count; i++)
		if (rd16(in, ICMSG_HDR + 8 + 4 * (first + i)) == v.major &&
		    rd16(in, ICMSG_HDR + 10 + 4 * (first + i)) == v.minor)
			return true;
	return false;
}

static void run(const uint8_t *data, size_t size, const IcVersion *fw, size_t n_fw,
		const IcVersion *svc, size_t n_svc)
{
	_cleanup_free_ uint8_t *p = malloc(size ? size : 1);
	IcVersion rfw, rsvc;
	IcMsgHeader h;
	int r;

	assert_se(p);
	memcpy(p, data, size);
	r = icmsg_negotiate(p, size, fw, n_fw, svc, n_svc, &rfw, &rsvc);
	if (size < ICMSG_HDR) {
		assert_se(r == -EBADMSG);
		assert_se(memcmp(p, data, size) == 0);
		return;
	}
	assert_se(icmsg_parse_header(p, size, &h) == 0);
	assert_se(h.flags == (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE));
	switch (r) {
	case 0:
		assert_se(h.status == HV_S_OK && h.msgsize == 0x10);
		assert_se(rd16(p, ICMSG_HDR) == 1 && rd16(p, ICMSG_HDR + 2) == 1);
		assert_se(offered(data, 0, rd16(data, ICMSG_HDR), rfw));
		assert_se(offered(data, rd16(data, ICMSG_HDR), rd16(data, ICMSG_HDR + 2), rsvc));
		break;
	case -EPROTONOSUPPORT:
		assert_se(h.status == HV_E_FAIL && h.msgsize == 0x10);
		assert_se(rd16(p, ICMSG_HDR) == 0 && rd16(p, ICMSG_HDR + 2) == 0);
		break;
	case -EBADMSG:
		assert_se(h.status == HV_E_FAIL);
		assert_se(memcmp(p + ICMSG_HDR, data + ICMSG_HDR, size - ICMSG_HDR) == 0);
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, fcopy_fw, ELEMENTSOF(fcopy_fw), fcopy_svc, ELEMENTSOF(fcopy_svc));
	run(data, size, kvp_fw, ELEMENTSOF(kvp_fw), kvp_svc, ELEMENTSOF(kvp_svc));
	return 0;
}
