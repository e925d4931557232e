/* SPDX-License-Identifier: MIT */
/*
 * hvctl devices against fake sysfs trees in temporary directories: class names, the
 * attribute reader (a device without device_id, an unbound one, an unknown class, attributes
 * that cannot be read), sorting by channel, the exact table, -v and --json, and the built
 * binary ($HVCTL) with --sysfs-dir, including the no-Hyper-V case.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/macro.h"
#include "ctl/ctl-devices.h"

extern char **environ;

#define OUT_MAX 16384

#define NIC_CLASS "f8615163-df3e-46c5-913f-f2d2f965ed0e"
#define SCSI_CLASS "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f"
#define FCOPY_CLASS "34d14be3-dee4-41c8-9ae7-6b174977c192"
#define HB_CLASS "57164f39-9115-4e78-ab55-382f3bd5422d"
#define ODD_CLASS "11111111-2222-3333-4444-555555555555"
#define NIC_INST "0bc9f1a4-0000-4000-8000-000000000014"
#define SCSI_INST "0bc9f1a4-0000-4000-8000-000000000002"
#define FCOPY_INST "eb765408-105f-49b6-b4aa-c123b64d17d4"
#define HB_INST "0bc9f1a4-0000-4000-8000-000000000005"
#define ODD_INST "0bc9f1a4-0000-4000-8000-000000000007"
#define BROKEN_INST "0bc9f1a4-0000-4000-8000-0000000000ff"

typedef struct Ctx {
	char root[64];	/* mkdtemp */
	char sysfs[96]; /* root/sys */
} Ctx;

static void put(const char *dir, const char *name, const char *content)
{
	char path[512];
	FILE *f;

	assert_true(snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path));
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void mkdirs(const char *path)
{
	char buf[512];

	assert_true(snprintf(buf, sizeof(buf), "%s", path) < (int)sizeof(buf));
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
			*p = '/';
		}
	assert_true(mkdir(buf, 0755) == 0 || errno == EEXIST);
}

/*
 * Adds a device directory under sysfs/bus/vmbus/devices as the kernel lays it out. NULL
 * attributes are left out; driver NULL: unbound. Returns the directory in dir.
 */
static void add_device(const Ctx *c, const char *name, const char *class_id, const char *device_id,
		       const char *id, const char *driver, char *dir, size_t size)
{
	char drv[512], target[512];

	assert_true(snprintf(dir, size, "%s/bus/vmbus/devices/%s", c->sysfs, name) < (int)size);
	mkdirs(dir);
	if (class_id)
		put(dir, "class_id", class_id);
	if (device_id)
		put(dir, "device_id", device_id);
	if (id)
		put(dir, "id", id);
	if (driver) {
		snprintf(drv, sizeof(drv), "%s/bus/vmbus/drivers/%s", c->sysfs, driver);
		mkdirs(drv);
		snprintf(target, sizeof(target), "../../drivers/%s", driver);
		snprintf(drv, sizeof(drv), "%s/driver", dir);
		assert_int_equal(symlink(target, drv), 0);
	}
}

static int setup(void **state)
{
	Ctx *c = calloc(1, sizeof(*c));
	char dir[512];

	assert_non_null(c);
	snprintf(c->root, sizeof(c->root), "/tmp/test-ctl-devices-XXXXXX");
	assert_non_null(mkdtemp(c->root));
	snprintf(c->sysfs, sizeof(c->sysfs), "%s/sys", c->root);

	add_device(c, NIC_INST, "{" NIC_CLASS "}\n", "{" NIC_INST "}\n", "14\n", "hv_netvsc", dir,
		   sizeof(dir));
	put(dir, "vendor", "0x1414\n");
	put(dir, "device", "0x0\n");
	put(dir, "numa_node", "0\n");
	put(dir, "channel_vp_mapping", "14:0\n15:1\n");
	/* upper case as some saved trees have it: normalised to lower case */
	add_device(c, SCSI_INST, "{BA6163D9-04A1-4D29-B605-72E2FFB1DC7F}\n", "{" SCSI_INST "}\n",
		   "2\n", "hv_storvsc", dir, sizeof(dir));
	add_device(c, FCOPY_INST, "{" FCOPY_CLASS "}\n", "{" FCOPY_INST "}\n", "20\n", NULL, dir,
		   sizeof(dir));
	add_device(c, ODD_INST, "{" ODD_CLASS "}\n", "{" ODD_INST "}\n", "7\n", "foo_drv", dir,
		   sizeof(dir));
	add_device(c, HB_INST, "{" HB_CLASS "}\n", NULL, "5\n", "hv_utils", dir, sizeof(dir));
	/* id and class_id exist but cannot be read (directories); device_id is malformed */
	add_device(c, BROKEN_INST, NULL, NULL, NULL, NULL, dir, sizeof(dir));
	put(dir, "device_id", "{not-a-guid}\n");
	{
		char sub[600];

		snprintf(sub, sizeof(sub), "%s/id", dir);
		mkdirs(sub);
		snprintf(sub, sizeof(sub), "%s/class_id", dir);
		mkdirs(sub);
	}
	*state = c;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	Ctx *c = *state;

	assert_int_equal(nftw(c->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(c);
	return 0;
}

/* Text written by a printer into a malloc'ed string. */
typedef int (*printer_t)(FILE *f, const CtlVmbusDevice *v, size_t n);

static char *print_to_string(printer_t p, const CtlVmbusDevice *v, size_t n)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	assert_non_null(f);
	assert_int_equal(p(f, v, n), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* Runs $HVCTL args... capturing stdout and stderr; returns the exit status. */
static int run_hvctl(const Ctx *c, const char *const *args, char *out, char *err)
{
	const char *hvctl = getenv("HVCTL");
	posix_spawn_file_actions_t fa;
	char out_path[128], err_path[128];
	char *argv[16];
	size_t n = 0;
	int status, fd;
	ssize_t k;
	pid_t pid;

	assert_non_null(hvctl);
	argv[n++] = (char *)hvctl;
	for (; *args; args++) {
		assert_true(n < ELEMENTSOF(argv) - 1);
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	snprintf(out_path, sizeof(out_path), "%s/stdout", c->root);
	snprintf(err_path, sizeof(err_path), "%s/stderr", c->root);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, out_path,
							  O_WRONLY | O_CREAT | O_TRUNC, 0600),
			 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 2, err_path,
							  O_WRONLY | O_CREAT | O_TRUNC, 0600),
			 0);
	assert_int_equal(posix_spawn(&pid, hvctl, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));

	fd = open(out_path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	k = read(fd, out, OUT_MAX - 1);
	assert_true(k >= 0);
	out[k] = '\0';
	close(fd);
	fd = open(err_path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	k = read(fd, err, OUT_MAX - 1);
	assert_true(k >= 0);
	err[k] = '\0';
	close(fd);
	unlink(out_path);
	unlink(err_path);
	return WEXITSTATUS(status);
}

static void test_class_name(void **state)
{
	(void)state;
	assert_string_equal(ctl_vmbus_class_name(NIC_CLASS), "Synthetic network adapter");
	assert_string_equal(ctl_vmbus_class_name("{" SCSI_CLASS "}"), "Synthetic SCSI controller");
	assert_string_equal(ctl_vmbus_class_name("{34D14BE3-DEE4-41C8-9AE7-6B174977C192}"),
			    "Guest services (file copy)");
	assert_string_equal(ctl_vmbus_class_name("9527e630-d0ae-497b-adce-e80ab0175caf"),
			    "Time synchronization");
	assert_string_equal(ctl_vmbus_class_name(ODD_CLASS), "Unknown");
	/* a known GUID with something after it is not that class */
	assert_string_equal(ctl_vmbus_class_name(NIC_CLASS "0"), "Unknown");
	assert_string_equal(ctl_vmbus_class_name("f8615163"), "Unknown");
	assert_string_equal(ctl_vmbus_class_name(""), "Unknown");
	assert_string_equal(ctl_vmbus_class_name(NULL), "Unknown");
}

static void test_scan_dir(void **state)
{
	Ctx *c = *state;
	CtlVmbusDevice *v = NULL;
	size_t n = 0;
	static const uint32_t ids[] = { 2, 5, 7, 14, 20 };

	assert_int_equal(ctl_vmbus_devices_scan_dir(c->sysfs, &v, &n), 0);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
		assert_true(v[i].has_id);
		assert_int_equal(v[i].id, ids[i]);
	}
	/* SCSI: upper case normalised, bound */
	assert_string_equal(v[0].class_id, SCSI_CLASS);
	assert_string_equal(v[0].device_id, SCSI_INST);
	assert_true(v[0].bound);
	assert_string_equal(v[0].driver, "hv_storvsc");
	assert_null(v[0].vendor);
	/* heartbeat without device_id */
	assert_null(v[1].device_id);
	assert_string_equal(v[1].class_id, HB_CLASS);
	assert_string_equal(v[1].driver, "hv_utils");
	/* NIC with every detail; the mapping's lines joined */
	assert_string_equal(v[3].name, NIC_INST);
	assert_string_equal(v[3].vendor, "0x1414");
	assert_string_equal(v[3].device, "0x0");
	assert_string_equal(v[3].numa_node, "0");
	assert_string_equal(v[3].vp_mapping, "14:0 15:1");
	/* fcopy: unbound */
	assert_false(v[4].bound);
	assert_null(v[4].driver);
	/* the broken one: no id (sorted last), unreadable class, malformed device_id */
	assert_false(v[5].has_id);
	assert_string_equal(v[5].name, BROKEN_INST);
	assert_null(v[5].class_id);
	assert_null(v[5].device_id);
	assert_false(v[5].bound);
	ctl_vmbus_devices_free(v, n);
}

static void test_scan_no_vmbus(void **state)
{
	Ctx *c = *state;
	CtlVmbusDevice *v = (CtlVmbusDevice *)1;
	char path[128];
	size_t n = 99;

	snprintf(path, sizeof(path), "%s/nothing-here", c->root);
	assert_int_equal(ctl_vmbus_devices_scan_dir(path, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
}

/* One row as the table lays it out: id right-aligned under "VMBUS ID", others padded. */
static void row(char *buf, size_t size, const char *id, const char *cls, const char *inst,
		const char *drv)
{
	size_t len = strlen(buf);

	snprintf(buf + len, size - len, "%8s  %-26s  %-36s  %s\n", id, cls, inst, drv);
}

static void expected_table(char *buf, size_t size)
{
	buf[0] = '\0';
	row(buf, size, "VMBUS ID", "CLASS", "INSTANCE", "DRIVER");
	row(buf, size, "2", "Synthetic SCSI controller", SCSI_INST, "hv_storvsc");
	row(buf, size, "5", "Heartbeat", "?", "hv_utils");
	row(buf, size, "7", "Unknown", ODD_INST, "foo_drv");
	row(buf, size, "14", "Synthetic network adapter", NIC_INST, "hv_netvsc");
	row(buf, size, "20", "Guest services (file copy)", FCOPY_INST, "-");
	row(buf, size, "?", "Unknown", "?", "-");
}

static void test_table(void **state)
{
	Ctx *c = *state;
	CtlVmbusDevice *v = NULL;
	char expect[4096];
	size_t n = 0;
	char *text;

	assert_int_equal(ctl_vmbus_devices_scan_dir(c->sysfs, &v, &n), 0);
	text = print_to_string(ctl_vmbus_print_table, v, n);
	expected_table(expect, sizeof(expect));
	assert_string_equal(text, expect);
	free(text);
	ctl_vmbus_devices_free(v, n);
}

static void test_verbose(void **state)
{
	Ctx *c = *state;
	CtlVmbusDevice *v = NULL;
	size_t n = 0;
	char *text;

	assert_int_equal(ctl_vmbus_devices_scan_dir(c->sysfs, &v, &n), 0);
	text = print_to_string(ctl_vmbus_print_verbose, v, n);
	assert_non_null(strstr(text, "VMBus ID 14: Synthetic network adapter\n"
				     "  Class ID:    " NIC_CLASS "\n"
				     "  Instance:    " NIC_INST "\n"
				     "  Driver:      hv_netvsc\n"
				     "  Vendor:      0x1414\n"
				     "  Device:      0x0\n"
				     "  NUMA node:   0\n"
				     "  Channels:    14:0 15:1\n"
				     "  Sysfs name:  " NIC_INST "\n\n"));
	assert_non_null(strstr(text, "VMBus ID 20: Guest services (file copy)\n"
				     "  Class ID:    " FCOPY_CLASS "\n"
				     "  Instance:    " FCOPY_INST "\n"
				     "  Driver:      -\n"
				     "  Vendor:      ?\n"));
	assert_non_null(strstr(text, "VMBus ID 5: Heartbeat\n"
				     "  Class ID:    " HB_CLASS "\n"
				     "  Instance:    ?\n"));
	/* first block first, last block (no id) last, no trailing empty line */
	assert_true(strncmp(text, "VMBus ID 2: Synthetic SCSI controller\n", 38) == 0);
	assert_non_null(strstr(text, "\n\nVMBus ID ?: Unknown\n  Class ID:    ?\n"));
	assert_string_equal(text + strlen(text) - strlen("  Sysfs name:  " BROKEN_INST "\n"),
			    "  Sysfs name:  " BROKEN_INST "\n");
	free(text);
	ctl_vmbus_devices_free(v, n);
}

static const char expected_json[] =
	"[{\"id\":2,\"class\":\"Synthetic SCSI controller\",\"class_id\":\"" SCSI_CLASS
	"\",\"device_id\":\"" SCSI_INST "\",\"bound\":true,\"driver\":\"hv_storvsc\","
	"\"sysfs_name\":\"" SCSI_INST "\",\"vendor\":null,\"device\":null,\"numa_node\":null,"
	"\"channels\":null},"
	"{\"id\":5,\"class\":\"Heartbeat\",\"class_id\":\"" HB_CLASS "\",\"device_id\":null,"
	"\"bound\":true,\"driver\":\"hv_utils\",\"sysfs_name\":\"" HB_INST "\",\"vendor\":null,"
	"\"device\":null,\"numa_node\":null,\"channels\":null},"
	"{\"id\":7,\"class\":\"Unknown\",\"class_id\":\"" ODD_CLASS "\",\"device_id\":\"" ODD_INST
	"\",\"bound\":true,\"driver\":\"foo_drv\",\"sysfs_name\":\"" ODD_INST "\",\"vendor\":null,"
	"\"device\":null,\"numa_node\":null,\"channels\":null},"
	"{\"id\":14,\"class\":\"Synthetic network adapter\",\"class_id\":\"" NIC_CLASS
	"\",\"device_id\":\"" NIC_INST "\",\"bound\":true,\"driver\":\"hv_netvsc\","
	"\"sysfs_name\":\"" NIC_INST "\",\"vendor\":\"0x1414\",\"device\":\"0x0\",\"numa_node\":0,"
	"\"channels\":[{\"relid\":14,\"cpu\":0},{\"relid\":15,\"cpu\":1}]},"
	"{\"id\":20,\"class\":\"Guest services (file copy)\",\"class_id\":\"" FCOPY_CLASS
	"\",\"device_id\":\"" FCOPY_INST "\",\"bound\":false,\"driver\":null,"
	"\"sysfs_name\":\"" FCOPY_INST "\",\"vendor\":null,\"device\":null,\"numa_node\":null,"
	"\"channels\":null},"
	"{\"id\":null,\"class\":\"Unknown\",\"class_id\":null,\"device_id\":null,\"bound\":false,"
	"\"driver\":null,\"sysfs_name\":\"" BROKEN_INST "\",\"vendor\":null,\"device\":null,"
	"\"numa_node\":null,\"channels\":null}]\n";

static void test_json(void **state)
{
	Ctx *c = *state;
	CtlVmbusDevice *v = NULL;
	size_t n = 0;
	char *text;

	assert_int_equal(ctl_vmbus_devices_scan_dir(c->sysfs, &v, &n), 0);
	text = print_to_string(ctl_vmbus_print_json, v, n);
	assert_string_equal(text, expected_json);
	free(text);
	ctl_vmbus_devices_free(v, n);
}

/* A malformed channel_vp_mapping is null in JSON but shown as it is in -v. */
static void test_json_bad_mapping(void **state)
{
	Ctx *c = *state;
	CtlVmbusDevice *v = NULL;
	char dir[512];
	size_t n = 0;
	char *text;

	snprintf(dir, sizeof(dir), "%s/bus/vmbus/devices/%s", c->sysfs, NIC_INST);
	put(dir, "channel_vp_mapping", "14:0\n15\n");
	put(dir, "numa_node", "x\n");
	assert_int_equal(ctl_vmbus_devices_scan_dir(c->sysfs, &v, &n), 0);
	text = print_to_string(ctl_vmbus_print_json, v, n);
	assert_non_null(strstr(text, "\"vendor\":\"0x1414\",\"device\":\"0x0\",\"numa_node\":null,"
				     "\"channels\":null}"));
	free(text);
	text = print_to_string(ctl_vmbus_print_verbose, v, n);
	assert_non_null(strstr(text, "  Channels:    14:0 15\n"));
	free(text);
	ctl_vmbus_devices_free(v, n);
}

static void test_hvctl_binary(void **state)
{
	Ctx *c = *state;
	char opt[160], expect[4096];
	char *out = malloc(OUT_MAX), *err = malloc(OUT_MAX);

	assert_non_null(out);
	assert_non_null(err);
	snprintf(opt, sizeof(opt), "--sysfs-dir=%s", c->sysfs);

	assert_int_equal(run_hvctl(c, (const char *[]){ "devices", opt, NULL }, out, err), 0);
	expected_table(expect, sizeof(expect));
	assert_string_equal(out, expect);
	assert_string_equal(err, "");

	assert_int_equal(run_hvctl(c, (const char *[]){ opt, "--json", "devices", NULL }, out, err),
			 0);
	assert_string_equal(out, expected_json);

	assert_int_equal(run_hvctl(c, (const char *[]){ "devices", "-v", opt, NULL }, out, err), 0);
	assert_non_null(strstr(out, "VMBus ID 14: Synthetic network adapter\n"));
	assert_non_null(strstr(out, "  Channels:    14:0 15:1\n"));

	/* one-word command: extra arguments are a usage error */
	assert_int_equal(run_hvctl(c, (const char *[]){ "devices", "list", opt, NULL }, out, err),
			 2);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "'devices' takes 0 argument(s), 1 given."));
	free(out);
	free(err);
}

/* Not a Hyper-V guest: a friendly line, exit 0, nothing that reads like an error. */
static void test_hvctl_no_devices(void **state)
{
	Ctx *c = *state;
	char opt[160];
	char *out = malloc(OUT_MAX), *err = malloc(OUT_MAX);

	assert_non_null(out);
	assert_non_null(err);
	snprintf(opt, sizeof(opt), "--sysfs-dir=%s/empty", c->root);
	assert_int_equal(run_hvctl(c, (const char *[]){ "devices", opt, NULL }, out, err), 0);
	assert_string_equal(out, "No VMBus devices (not a Hyper-V guest?)\n");
	assert_string_equal(err, "");

	/* an empty devices directory is the same */
	snprintf(opt, sizeof(opt), "%s/empty/bus/vmbus/devices", c->root);
	mkdirs(opt);
	snprintf(opt, sizeof(opt), "--sysfs-dir=%s/empty", c->root);
	assert_int_equal(run_hvctl(c, (const char *[]){ "devices", "--json", opt, NULL }, out, err),
			 0);
	assert_string_equal(out, "[]\n");
	assert_string_equal(err, "");
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_class_name),
		cmocka_unit_test_setup_teardown(test_scan_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_no_vmbus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verbose, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_bad_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hvctl_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hvctl_no_devices, setup, teardown),
	};

	return cmocka_run_group_tests_name("ctl-devices", tests, NULL, NULL);
}
