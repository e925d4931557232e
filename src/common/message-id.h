/* SPDX-License-Identifier: MIT */
/*
 * journald MESSAGE_ID= fields of the events an administrator looks for. Each one has an
 * entry in catalog/hvguest.catalog (installed to /usr/lib/systemd/catalog), so
 * "journalctl -x" explains it and "journalctl MESSAGE_ID=..." finds every occurrence.
 *
 * The ids were generated once (systemd-id128 new) and never change: scripts and alerting
 * rules match on them. A new event gets a new id; a removed one leaves its id unused.
 * tests/check-catalog.sh checks that every id here has exactly one catalog entry and back.
 *
 * Use as a LOG_FIELDS() element: LOG_FIELDS("HV_OP=fcopy", HV_MESSAGE_ID_FILE_RECEIVED).
 */
#pragma once

/* KVP: the host's SET_IP_INFO was applied to an adapter. */
#define HV_MESSAGE_ID_KVP_IP_INJECTED "MESSAGE_ID=c9ffe83f1830401e9c25314f0365096d"
/* KVP: the host's SET_IP_INFO could not be applied; the host was answered an error. */
#define HV_MESSAGE_ID_KVP_IP_INJECT_FAILED "MESSAGE_ID=18e3bc2d91e441f28df42dbb97e12d45"

/* VSS: a backup ended normally (frozen, snapshot taken, thawed on the host's request). */
#define HV_MESSAGE_ID_VSS_BACKUP_DONE "MESSAGE_ID=e5eba97f915d403fa7c0590a9aced9b4"
/* VSS: a backup failed, or ended without the host's thaw (deadline, shutdown, reconnect). */
#define HV_MESSAGE_ID_VSS_BACKUP_FAILED "MESSAGE_ID=7dc53a6587b74c7da03237b84a54fae6"

/* File copy: a file from the host (Copy-VMFile) was delivered at its destination. */
#define HV_MESSAGE_ID_FILE_RECEIVED "MESSAGE_ID=8fe74b422d004b9cbf31143ff23801e9"
/* File copy: a transfer ended without a delivered file (error or cancelled). */
#define HV_MESSAGE_ID_FILE_COPY_FAILED "MESSAGE_ID=7422f7e2106f47a8a735cda134416378"

/* Time sync: the daemon stepped the system clock. */
#define HV_MESSAGE_ID_CLOCK_STEPPED "MESSAGE_ID=1a1bf08b28ef4265a9a564fa770485a0"
/* Time sync: another time service is active, so the daemon only monitors (mode=auto). */
#define HV_MESSAGE_ID_TIMESYNC_MONITOR "MESSAGE_ID=c70c087c36334432813ec08418bada8e"
