/* SPDX-License-Identifier: MIT */
/*
 * Arbitrary reading sequences through the sawtooth filter and the PI servo, the way the loop
 * feeds them: never crash or hit UB, verdicts in range, and every offset and frequency that
 * comes out is finite (the frequency within the servo's limit). Each 16-byte record is one
 * poll: u32 monotonic advance (ns, so polls from 0 to 4.3 s apart), i64 offset (ns, limited
 * to ±2^62 as source_parse_ptp_sys_offset() guarantees for differences), i32 phase change of
 * the loop's own corrections (ns), and the low bits of the offset's last byte pick rare
 * actions (holdover, reset).
 */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "timesync/phc-filter.h"
#include "timesync/servo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RECORD 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PhcFilterConfig fc;
	PhcFilter f;
	ServoPiConfig sc;
	Servo *servo = NULL;
	int64_t t = 1000000000;
	double corr = 0;

	phc_filter_config_default(&fc);
	servo_pi_config_default(&sc);
	if (size > 0 && (data[0] & 1)) {
		fc.fresh_only = true;
		sc.initial_frequency_ppb = -12345.0;
	}
	phc_filter_init(&f, &fc);
	assert(servo_pi_new(&sc, &servo) == 0);

	for (size_t off = 0; off + RECORD <= size; off += RECORD) {
		uint32_t dt;
		int64_t raw;
		int32_t dcorr;
		double out = NAN, ppb = NAN;
		PhcFilterVerdict v;
		ServoState st;

		memcpy(&dt, data + off, 4);
		memcpy(&raw, data + off + 4, 8);
		memcpy(&dcorr, data + off + 12, 4);
		t += dt;
		corr += dcorr;
		switch (raw & 0xf) {
		case 0xe:
			phc_filter_reset(&f);
			servo_reset(servo);
			continue;
		case 0xf:
			ppb = servo_holdover(servo, t);
			assert(isfinite(ppb) && fabs(ppb) <= sc.max_frequency_ppb);
			continue;
		default:
			break;
		}
		raw >>= 1; /* ±2^62 */
		v = phc_filter_sample(&f, t, (double)raw, corr, &out);
		assert(v >= 0 && v < _PHC_FILTER_VERDICT_MAX);
		if (v != PHC_FILTER_USE && v != PHC_FILTER_EVENT)
			continue;
		assert(isfinite(out));
		if (v == PHC_FILTER_EVENT)
			servo_reset(servo);
		st = servo_sample(servo, out, t, &ppb);
		assert(st >= 0 && st < _SERVO_STATE_MAX);
		assert(isfinite(ppb) && fabs(ppb) <= sc.max_frequency_ppb);
	}
	servo_free(servo);
	return 0;
}
