/* SPDX-License-Identifier: MIT */
/*
 * Background FQDN resolution for the auto pool's FullyQualifiedDomainName.
 *
 * One resolver thread, started by kvp_fqdn_new() and otherwise asleep on a condition
 * variable: it works only when asked (no timers). Each refresh runs gethostname(), then
 * getaddrinfo(host, AI_CANONNAME, AF_UNSPEC), and keeps the canonical name if it contains
 * a '.', else the plain hostname. A failed lookup keeps the previous value (initially the
 * plain hostname read in kvp_fqdn_new()), so the value is never an error text and a slow or
 * broken resolver never delays a reply to the host (upstream resolved once at start-up and
 * reported "getaddrinfo failed: ..." for the daemon's lifetime).
 */
#pragma once

#include <stddef.h>

#include "common/macro.h"

typedef struct KvpFqdn KvpFqdn;

/*
 * Called on the resolver thread after every refresh with the value then current (changed
 * or not). Must not call kvp_fqdn_free(); kvp_fqdn_get() and kvp_fqdn_request_refresh()
 * are fine.
 */
typedef void (*KvpFqdnCallback)(const char *fqdn, void *userdata);

/*
 * Reads the hostname as the initial value and starts the resolver thread. No lookup runs
 * until the first kvp_fqdn_request_refresh(). cb may be NULL.
 */
int kvp_fqdn_new(KvpFqdnCallback cb, void *userdata, KvpFqdn **ret);

/*
 * Asks the resolver thread for a refresh and returns at once. Requests made while a lookup
 * is running coalesce into one more lookup after it. Thread-safe.
 */
void kvp_fqdn_request_refresh(KvpFqdn *f);

/*
 * Copies the current value into buf[size] (NUL-terminated). -ENOBUFS if it does not fit
 * (buf then holds nothing useful). Thread-safe.
 */
int kvp_fqdn_get(KvpFqdn *f, char *buf, size_t size);

/*
 * Stops and joins the resolver thread, then frees f. Blocks until a lookup in progress
 * returns (bounded by the resolver's own timeouts). Accepts NULL; returns NULL.
 */
KvpFqdn *kvp_fqdn_free(KvpFqdn *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpFqdn *, kvp_fqdn_free);
