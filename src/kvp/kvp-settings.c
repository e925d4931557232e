/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "common/conf.h"
#include "common/event.h"
#include "config.h"
#include "kvp/kvp-settings.h"

/* Interfaces that never carry the address the host should show for the VM. */
static const char *const default_excludes[] = {
	"veth*", "docker*", "virbr*", "cni*", "flannel*", "cali*", "br-*", NULL,
};

static const ConfItem kvp_conf_table[] = {
	{ "kvp", "device", CONF_PATH, offsetof(KvpSettings, device), 0, 0 },
	{ "kvp", "state_directory", CONF_PATH, offsetof(KvpSettings, state_dir), 0, 0 },
	{ "kvp", "os_release", CONF_PATH, offsetof(KvpSettings, os_release), 0, 0 },
	{ "kvp", "exclude_interfaces", CONF_STRV, offsetof(KvpSettings, exclude_interfaces), 0, 0 },
	{ "kvp", "private_host_pools", CONF_BOOL, offsetof(KvpSettings, private_host_pools), 0, 1 },
	{ "kvp", "lock_timeout", CONF_USEC, offsetof(KvpSettings, lock_timeout_usec), USEC_PER_MSEC,
	  25 * USEC_PER_SEC },
	{ "kvp", "flush_timeout", CONF_USEC, offsetof(KvpSettings, flush_timeout_usec), 0,
	  600 * USEC_PER_SEC },
	{ "kvp", "log_level", CONF_LOGLEVEL, offsetof(KvpSettings, log_level), 0, 7 },
	{ "kvp", "ip_backend", CONF_STRING, offsetof(KvpSettings, ip_backend), 0, 0 },
	{ "kvp", "ip_apply_timeout", CONF_USEC, offsetof(KvpSettings, ip_apply_timeout_usec),
	  USEC_PER_SEC, 25 * USEC_PER_SEC },
	{ "kvp", "dns_helper", CONF_PATH, offsetof(KvpSettings, dns_helper), 0, 0 },
	{ "kvp", "dhcp_helper", CONF_PATH, offsetof(KvpSettings, dhcp_helper), 0, 0 },
	{ "kvp", "set_ifconfig_helper", CONF_PATH, offsetof(KvpSettings, set_ifconfig_helper), 0,
	  0 },
	{ "kvp", "helper_timeout", CONF_USEC, offsetof(KvpSettings, helper_timeout_usec),
	  100 * USEC_PER_MSEC, 20 * USEC_PER_SEC },
};

/* Command-line-only strings freed with the table's. */
static void free_test_seams(KvpSettings *s)
{
	free(s->root_dir);
	free(s->tools_dir);
	free(s->sysfs_dir);
	s->root_dir = s->tools_dir = s->sysfs_dir = NULL;
}

int kvp_settings_init(KvpSettings *s)
{
	const char *state = getenv("STATE_DIRECTORY");

	*s = (KvpSettings){
		.private_host_pools = false,
		/* Well inside the kernel's 30 s reply window, long enough for a busy writer. */
		.lock_timeout_usec = 1 * USEC_PER_SEC,
		.flush_timeout_usec = 10 * USEC_PER_SEC,
		.log_level = LOG_INFO,
		/* The host waits 30 s for the answer; leave room for the rollback. */
		.ip_apply_timeout_usec = 20 * USEC_PER_SEC,
		.helper_timeout_usec = 2 * USEC_PER_SEC,
	};
	s->device = strdup(KVP_DEVICE);
	/* StateDirectory= may list several paths separated by ':'; ours is the first. */
	s->state_dir = state && state[0] == '/' ? strndup(state, strcspn(state, ":"))
						: strdup(KVP_STATE_DIR);
	s->exclude_interfaces = strv_copy((char *const *)default_excludes);
	s->ip_backend = strdup("auto");
	if (!s->device || !s->state_dir || !s->exclude_interfaces || !s->ip_backend) {
		kvp_settings_done(s);
		return -ENOMEM;
	}
	return 0;
}

int kvp_settings_load(KvpSettings *s, const char *file, const char *dropin_dir, ConfError *reterr)
{
	return conf_load(kvp_conf_table, ELEMENTSOF(kvp_conf_table), s, file, dropin_dir, reterr);
}

void kvp_settings_done(KvpSettings *s)
{
	conf_free(kvp_conf_table, ELEMENTSOF(kvp_conf_table), s);
	free_test_seams(s);
}
