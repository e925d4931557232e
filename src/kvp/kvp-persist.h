/* SPDX-License-Identifier: MIT */
/*
 * The pool writer thread. The manager answers the host from memory and kicks this thread;
 * the thread calls kvp_store_flush(), which may block for as long as /var is frozen by a
 * live backup without delaying any host request. Failed flushes are retried with a backoff
 * (1 s doubling to 60 s); an idle writer sleeps on a condition variable and costs nothing.
 */
#pragma once

#include <stdint.h>

#include "common/macro.h"
#include "kvp/kvp-store.h"

typedef struct KvpPersist KvpPersist;

/* Starts the writer thread for store (borrowed; must outlive the writer). */
int kvp_persist_new(KvpStore *store, KvpPersist **ret);
/* Asks for a flush soon. Cheap; callable after every change. */
void kvp_persist_kick(KvpPersist *p);
/*
 * Flushes what is pending and stops the thread, waiting at most timeout_usec. Returns 0, or
 * -ETIMEDOUT if the thread is still blocked (then the thread and store are deliberately left
 * alive: the process is about to exit and freeing them under a blocked write would be worse).
 */
int kvp_persist_stop(KvpPersist *p, uint64_t timeout_usec);
/* Frees a stopped writer. Safe on NULL. Must not be called after a -ETIMEDOUT stop. */
KvpPersist *kvp_persist_free(KvpPersist *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(KvpPersist *, kvp_persist_free);
