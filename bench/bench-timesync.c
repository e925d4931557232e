/* SPDX-License-Identifier: MIT */
/*
 * bench-timesync: the real timesync loop (sawtooth filter + PI servo) against the simulated
 * Hyper-V clock, per scenario over 5 seeds, next to the same servo fed every reading without
 * the sawtooth processing ("naive", which stands in for chrony/phc2sys on this clock).
 * Simulated time only: runs in well under a second per scenario. --quick: 2 seeds.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "timesync-sim.h"

#define SEEDS_MAX 5

typedef struct Stat {
	double v[SEEDS_MAX];
	int n;
	int never;
} Stat;

static void stat_add(Stat *s, double v)
{
	if (v < 0)
		s->never++;
	else
		s->v[s->n++] = v;
}

/* "mean±sd" (sd over seeds); "never" marks how many seeds did not get there. */
static void stat_print(const Stat *s, double scale, const char *unit)
{
	double mean = 0, var = 0;
	char buf[48];

	if (s->n == 0) {
		printf(" %16s", "never");
		return;
	}
	for (int i = 0; i < s->n; i++)
		mean += s->v[i] * scale;
	mean /= s->n;
	for (int i = 0; i < s->n; i++)
		var += (s->v[i] * scale - mean) * (s->v[i] * scale - mean);
	var = s->n > 1 ? var / (s->n - 1) : 0;
	if (snprintf(buf, sizeof(buf), "%.3g±%.2g%s%s", mean, sqrt(var), unit,
		     s->never ? "*" : "") >= (int)sizeof(buf))
		buf[0] = '\0';
	printf(" %16s", buf);
}

int main(int argc, char **argv)
{
	int seeds = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 2 : SEEDS_MAX;

	printf("timesync on the simulated clock, %d seeds, 600 s (stale: 1200 s), poll 0.25 s\n",
	       seeds);
	printf("RMS/max over 300 s..end outside event windows; lock: |offset| < 10 µs for 10 s;\n"
	       "recovery: after the event until < 10 µs for 5 s; * = some seeds never got "
	       "there\n\n");
	printf("%-12s %16s %16s %16s %16s %16s %16s %16s\n", "scenario", "rms", "max", "lock",
	       "recovery", "naive rms", "naive max", "naive recov");

	for (const char *const *name = sim_scenario_names; *name; name++) {
		Stat rms = {}, max = {}, lock = {}, rec = {}, nrms = {}, nmax = {}, nrec = {};
		bool has_event = false;

		for (int seed = 1; seed <= seeds; seed++) {
			SimScenario sc;
			SimResult r, nr;

			if (sim_scenario_get(*name, (uint64_t)seed, &sc) < 0 ||
			    sim_run(&sc, false, &r) < 0 || sim_run(&sc, true, &nr) < 0) {
				fprintf(stderr, "scenario %s failed\n", *name);
				return 1;
			}
			has_event = sc.model.n_events > 0;
			stat_add(&rms, r.rms_ns);
			stat_add(&max, r.max_ns);
			stat_add(&lock, r.lock_s);
			stat_add(&nrms, nr.rms_ns);
			stat_add(&nmax, nr.max_ns);
			if (has_event) {
				stat_add(&rec, r.recovery_s[0]);
				stat_add(&nrec, nr.recovery_s[0]);
			}
		}
		printf("%-12s", *name);
		stat_print(&rms, 1e-3, "µs");
		stat_print(&max, 1e-3, "µs");
		stat_print(&lock, 1, "s");
		if (has_event)
			stat_print(&rec, 1, "s");
		else
			printf(" %16s", "-");
		stat_print(&nrms, 1e-3, "µs");
		stat_print(&nmax, 1e-3, "µs");
		if (has_event)
			stat_print(&nrec, 1, "s");
		else
			printf(" %16s", "-");
		printf("\n");
	}
	return 0;
}
