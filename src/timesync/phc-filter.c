/* SPDX-License-Identifier: MIT */
/*
 * Sawtooth-aware PHC sample processing; see phc-filter.h for the model and the signs.
 */
#include <math.h>
#include <string.h>

#include "common/macro.h"
#include "phc-filter.h"

/* Segments shorter than this many points predict with the slope learnt from earlier ones. */
#define SEG_OWN_SLOPE_MIN 8
/* A refresh jump may differ from the expected e·interval by this fraction. */
#define REFRESH_TOLERANCE 0.25
/* Counter error estimates only from refresh intervals in this range (s). */
#define EC_INTERVAL_MIN_S 1.0
#define EC_INTERVAL_MAX_S 30.0

const char *phc_filter_mode_to_string(PhcFilterMode m)
{
	switch (m) {
	case PHC_FILTER_MODE_UNKNOWN:
		return "unknown";
	case PHC_FILTER_MODE_CONTINUOUS:
		return "continuous";
	case PHC_FILTER_MODE_SAWTOOTH:
		return "sawtooth";
	case _PHC_FILTER_MODE_MAX:
	case _PHC_FILTER_MODE_INVALID:
		break;
	}
	return NULL;
}

void phc_filter_config_default(PhcFilterConfig *c)
{
	*c = (PhcFilterConfig){
		.min_jump_ns = 5000,
		.jump_sigmas = 8.0,
		.max_refresh_jump_ns = 2000000,
		.continuous_after_ns = 20000000000,
		.max_age_ns = 12000000000,
		.fresh_only = false,
	};
}

void phc_filter_init(PhcFilter *f, const PhcFilterConfig *c)
{
	*f = (PhcFilter){ .c = *c, .mode = PHC_FILTER_MODE_UNKNOWN };
}

void phc_filter_reset(PhcFilter *f)
{
	f->n_seg = 0;
	f->have_cand = false;
	f->seg_fresh_used = false;
}

bool phc_filter_counter_error(const PhcFilter *f, double *ret_ppb)
{
	double v[PHC_FILTER_EC_HISTORY];
	size_t n = f->n_ec;

	if (n == 0)
		return false;
	/* Median: one misclassified event must not bend the correction. */
	memcpy(v, f->ec_hist, n * sizeof(double));
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double tmp = v[j];

			v[j] = v[j - 1];
			v[j - 1] = tmp;
		}
	*ret_ppb = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
	return true;
}

static double seconds(int64_t ns)
{
	return (double)ns * 1e-9;
}

/* Least-squares line through the segment, time relative to the newest point. */
static void seg_fit(const PhcFilter *f, double *ret_slope, double *ret_mean_t, double *ret_mean_u)
{
	int64_t t0 = f->seg[f->n_seg - 1].t_ns;
	double mt = 0, mu = 0, stt = 0, stu = 0;

	for (size_t i = 0; i < f->n_seg; i++) {
		mt += seconds(f->seg[i].t_ns - t0);
		mu += f->seg[i].u_ns;
	}
	mt /= (double)f->n_seg;
	mu /= (double)f->n_seg;
	for (size_t i = 0; i < f->n_seg; i++) {
		double dt = seconds(f->seg[i].t_ns - t0) - mt;

		stt += dt * dt;
		stu += dt * (f->seg[i].u_ns - mu);
	}
	*ret_slope = stt > 0 ? stu / stt : 0.0;
	*ret_mean_t = mt;
	*ret_mean_u = mu;
}

/* Predicted u at t from the current segment (which holds at least one point). */
static double seg_predict(const PhcFilter *f, int64_t t)
{
	int64_t t0 = f->seg[f->n_seg - 1].t_ns;
	double slope, mt, mu;

	seg_fit(f, &slope, &mt, &mu);
	if (f->n_seg < SEG_OWN_SLOPE_MIN) {
		if (f->have_slope)
			slope = f->slope;
		else if (f->n_seg < 2)
			slope = 0;
	}
	return mu + slope * (seconds(t - t0) - mt);
}

static void seg_add(PhcFilter *f, int64_t t, double u)
{
	if (f->n_seg == PHC_FILTER_SEGMENT_MAX) {
		memmove(f->seg, f->seg + 1, (PHC_FILTER_SEGMENT_MAX - 1) * sizeof(f->seg[0]));
		f->n_seg--;
	}
	f->seg[f->n_seg++] = (PhcFilterPoint){ .t_ns = t, .u_ns = u };
	if (f->n_seg >= SEG_OWN_SLOPE_MIN || (!f->have_slope && f->n_seg >= 3)) {
		double slope, mt, mu;

		seg_fit(f, &slope, &mt, &mu);
		f->slope = slope;
		f->have_slope = true;
	}
}

static double threshold(const PhcFilter *f)
{
	return MAX((double)f->c.min_jump_ns, f->c.jump_sigmas * f->sigma_ns);
}

/* Decides whether a confirmed jump at refresh time t_refresh is a host refresh. */
static bool is_refresh(const PhcFilter *f, double jump_ns, int64_t t_refresh)
{
	double ec;

	if (f->mode == PHC_FILTER_MODE_CONTINUOUS)
		return false;
	if (f->have_refresh && phc_filter_counter_error(f, &ec)) {
		double expected = ec * seconds(t_refresh - f->last_refresh_ns);

		return fabs(jump_ns - expected) <=
		       MAX(threshold(f), REFRESH_TOLERANCE * fabs(expected));
	}
	return fabs(jump_ns) <= (double)f->c.max_refresh_jump_ns;
}

static void note_refresh(PhcFilter *f, double jump_ns, int64_t t_refresh)
{
	if (f->have_refresh) {
		double interval = seconds(t_refresh - f->last_refresh_ns);

		/* A fast counter makes u drop within a segment and jump up by e·interval. */
		if (interval >= EC_INTERVAL_MIN_S && interval <= EC_INTERVAL_MAX_S) {
			f->ec_hist[f->ec_next] = jump_ns / interval;
			f->ec_next = (f->ec_next + 1) % PHC_FILTER_EC_HISTORY;
			if (f->n_ec < PHC_FILTER_EC_HISTORY)
				f->n_ec++;
		}
	}
	f->n_refreshes++;
	f->mode = PHC_FILTER_MODE_SAWTOOTH;
}

/* The offset to hand out for a reading at t, corrected for the carried-forward error. */
static double corrected(const PhcFilter *f, int64_t t, double offset_ns)
{
	double ec;

	if (f->mode != PHC_FILTER_MODE_SAWTOOTH || !f->have_refresh ||
	    !phc_filter_counter_error(f, &ec))
		return offset_ns;
	return offset_ns + ec * seconds(t - f->last_refresh_ns);
}

/* Verdict for an ordinary (on-the-line) reading. */
static PhcFilterVerdict ordinary(PhcFilter *f, int64_t t, double offset_ns, double *ret)
{
	double ec;

	if (f->mode == PHC_FILTER_MODE_UNKNOWN && t - f->t_start > f->c.continuous_after_ns)
		f->mode = PHC_FILTER_MODE_CONTINUOUS;

	if (f->mode == PHC_FILTER_MODE_SAWTOOTH && t - f->last_refresh_ns > f->c.max_age_ns) {
		/* Refreshes stopped. If they were too small to see anyway, the reference is as good
		 * as continuous; otherwise the host stopped sampling: hold over. */
		if (phc_filter_counter_error(f, &ec) &&
		    fabs(ec * seconds(f->c.max_age_ns)) < (double)f->c.min_jump_ns / 2) {
			f->mode = PHC_FILTER_MODE_CONTINUOUS;
		} else
			return PHC_FILTER_HOLDOVER;
	}
	if (f->mode == PHC_FILTER_MODE_SAWTOOTH && f->c.fresh_only) {
		if (f->seg_fresh_used)
			return PHC_FILTER_SKIP;
		f->seg_fresh_used = true;
	}
	*ret = corrected(f, t, offset_ns);
	return PHC_FILTER_USE;
}

/* The candidate was confirmed by the reading (t, u): start a new segment with both. */
static PhcFilterVerdict confirm(PhcFilter *f, int64_t t, double u, double offset_ns, double *ret)
{
	int64_t t_refresh = f->cand_prev_t + (f->cand.t_ns - f->cand_prev_t) / 2;
	double jump = f->cand_residual_ns;
	bool refresh = is_refresh(f, jump, t_refresh);

	if (refresh)
		note_refresh(f, jump, t_refresh);
	else {
		/* A migration changes the guest frequency: relearn the slope from the new segment.
		 */
		f->n_events++;
		f->have_slope = false;
	}
	if (f->mode == PHC_FILTER_MODE_SAWTOOTH) {
		/* After an event the next host sample is as fresh as a refresh. */
		f->have_refresh = true;
		f->last_refresh_ns = t_refresh;
	}
	f->n_seg = 0;
	f->have_cand = false;
	seg_add(f, f->cand.t_ns, f->cand.u_ns);
	seg_add(f, t, u);
	f->t_last = t;
	f->seg_fresh_used = true;
	*ret = corrected(f, t, offset_ns);
	return refresh ? PHC_FILTER_USE : PHC_FILTER_EVENT;
}

PhcFilterVerdict phc_filter_sample(PhcFilter *f, int64_t t_ns, double offset_ns, double corr_ns,
				   double *ret_offset_ns)
{
	double u = offset_ns - corr_ns;
	double r, thr;

	if (!f->started) {
		f->started = true;
		f->t_start = t_ns;
	}
	if (f->n_seg == 0) {
		seg_add(f, t_ns, u);
		f->t_last = t_ns;
		*ret_offset_ns = offset_ns;
		return PHC_FILTER_USE;
	}

	r = u - seg_predict(f, t_ns);
	thr = threshold(f);

	if (f->have_cand) {
		double slope = f->have_slope ? f->slope : 0;
		double rc = u - (f->cand.u_ns + slope * seconds(t_ns - f->cand.t_ns));

		/* Two readings off the old line on the same side are a discontinuity even when
		 * they disagree with each other: a migration also changes the slope. */
		if (fabs(r) > thr && (fabs(rc) <= thr || (r > 0) == (f->cand_residual_ns > 0)))
			return confirm(f, t_ns, u, offset_ns, ret_offset_ns);
		if (fabs(r) > thr) {
			/* Off the line on the other side: keep waiting with the newest reading. */
			f->cand = (PhcFilterPoint){ .t_ns = t_ns, .u_ns = u };
			f->cand_residual_ns = r;
			return PHC_FILTER_SKIP;
		}
		/* Back on the old line: the candidate was an outlier. */
		f->have_cand = false;
	} else if (fabs(r) > thr && f->n_seg >= (f->have_slope ? 2u : 3u)) {
		f->have_cand = true;
		f->cand = (PhcFilterPoint){ .t_ns = t_ns, .u_ns = u };
		f->cand_residual_ns = r;
		f->cand_prev_t = f->t_last;
		return PHC_FILTER_SKIP;
	}

	/* Residual size from on-the-line readings only (a jump would inflate it). */
	if (f->n_seg >= 3)
		f->sigma_ns = 0.95 * f->sigma_ns + 0.05 * 1.25 * fabs(r);
	seg_add(f, t_ns, u);
	f->t_last = t_ns;
	return ordinary(f, t_ns, offset_ns, ret_offset_ns);
}
