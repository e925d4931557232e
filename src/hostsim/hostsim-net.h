/* SPDX-License-Identifier: MIT */
/*
 * Network of the simulated guest, built with libnl-route inside a fresh network namespace
 * (test-harness.md §5): lo up; veth hv0 <-> hv0peer with hv0's MAC fixed; 192.0.2.10/24 and
 * 2001:db8::10/64 (nodad) on hv0; 192.0.2.11/24 on hv0peer, whose name shares hv0's prefix
 * to expose prefix-matching bugs; default routes via 192.0.2.1 and 2001:db8::1 on hv0; and,
 * when the kernel allows it, a "docker0" bridge with 172.17.0.1/16 for exclusion tests.
 * Never shells out.
 */
#pragma once

/* Configures the current network namespace. Must not be called on the machine's own. */
int hs_net_setup(void);
