/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/test-conf-util.h"
#include "common/fileio.h"

#include "fcopy-uio-discover.h"

#define FCOPY_INST "eb765408-105f-49b6-b4aa-c123b64d17d4"
#define OTHER_INST "242ff919-07db-4180-9c2e-b86cb68c8c55"
#define THIRD_INST "0e0b6031-5213-4934-818b-38d90ced07db"

typedef struct Fixture {
	char root[PATH_MAX];
	char sys[PATH_MAX];
	char dev[PATH_MAX];
	size_t page;
} Fixture;

/* Creates root-relative file path (and its directories) holding text. */
static void put(const Fixture *f, const char *rel, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX];
	char *slash;

	assert_true(snprintf(path, sizeof(path), "%s/%s", f->sys, rel) < (int)sizeof(path));
	memcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	*slash = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	test_write_text(path, text);
}

static void mkdir_rel(const Fixture *f, const char *rel)
{
	char path[PATH_MAX];

	assert_true(snprintf(path, sizeof(path), "%s/%s", f->sys, rel) < (int)sizeof(path));
	assert_int_equal(mkdir_p(path, 0755), 0);
}

static void symlink_rel(const Fixture *f, const char *target, const char *rel)
{
	char path[PATH_MAX];

	assert_true(snprintf(path, sizeof(path), "%s/%s", f->sys, rel) < (int)sizeof(path));
	assert_int_equal(symlink(target, path), 0);
}

static void read_rel(const Fixture *f, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *fp;
	size_t n;

	assert_true(snprintf(path, sizeof(path), "%s/%s", f->sys, rel) < (int)sizeof(path));
	fp = fopen(path, "re");
	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	assert_int_equal(fclose(fp), 0);
}

/* map0 size text for a ring of `pages` pages per direction, as uio prints it. */
static void map_size_text(const Fixture *f, size_t pages, char *buf, size_t size)
{
	assert_true(snprintf(buf, size, "0x%zx\n", 2 * pages * f->page) < (int)size);
}

/* The vmbus bus with two unrelated devices (one without class_id) and the fcopy device. */
static void add_devices(const Fixture *f, const char *fcopy_class_id)
{
	put(f, "bus/vmbus/devices/" OTHER_INST "/class_id",
	    "{0e0b6031-5213-4934-818b-38d90ced07db}\n");
	mkdir_rel(f, "bus/vmbus/devices/" THIRD_INST);
	put(f, "bus/vmbus/devices/" FCOPY_INST "/class_id", fcopy_class_id);
	/* The driver directory exists with an empty new_id, as when uio_hv_generic is loaded. */
	put(f, "bus/vmbus/drivers/uio_hv_generic/new_id", "");
}

static void add_uio(const Fixture *f, const char *uio, const char *size_text)
{
	char rel[PATH_MAX];

	assert_true(snprintf(rel, sizeof(rel),
			     "bus/vmbus/devices/" FCOPY_INST "/uio/%s/maps/map0/size",
			     uio) < (int)sizeof(rel));
	put(f, rel, size_text);
}

static int setup(void **state)
{
	Fixture *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test-fcopy-uio-XXXXXX";

	assert_non_null(f);
	assert_non_null(mkdtemp(tmpl));
	memcpy(f->root, tmpl, sizeof(tmpl));
	assert_true(snprintf(f->sys, sizeof(f->sys), "%s/sys", f->root) < (int)sizeof(f->sys));
	assert_true(snprintf(f->dev, sizeof(f->dev), "%s/dev", f->root) < (int)sizeof(f->dev));
	assert_int_equal(mkdir(f->sys, 0755), 0);
	f->page = (size_t)sysconf(_SC_PAGESIZE);
	*state = f;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	Fixture *f = *state;

	assert_int_equal(nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(f);
	return 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_found_bound(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;
	char size[64], expect[PATH_MAX], newid[128];

	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	symlink_rel(f, "../../../../bus/vmbus/drivers/uio_hv_generic",
		    "bus/vmbus/devices/" FCOPY_INST "/driver");
	map_size_text(f, 5, size, sizeof(size));
	add_uio(f, "uio3", size);

	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), 0);
	assert_string_equal(d.instance, FCOPY_INST);
	assert_string_equal(d.uio_name, "uio3");
	assert_true(snprintf(expect, sizeof(expect), "%s/uio3", f->dev) < (int)sizeof(expect));
	assert_string_equal(d.dev_path, expect);
	assert_int_equal(d.ring_size, 5 * f->page);
	/* Already bound: new_id is left alone. */
	read_rel(f, "bus/vmbus/drivers/uio_hv_generic/new_id", newid, sizeof(newid));
	assert_string_equal(newid, "");
}

/* Upper case and no trailing newline are accepted; a uio dir without a driver link too. */
static void test_found_precreated_uio(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;
	char size[64], newid[128];

	add_devices(f, "{34D14BE3-DEE4-41C8-9AE7-6B174977C192}");
	/* Old kernels: 16 KiB per direction including the header page. */
	map_size_text(f, 4, size, sizeof(size));
	add_uio(f, "uio12", size);
	mkdir_rel(f, "bus/vmbus/devices/" FCOPY_INST "/uio/not-a-uio");

	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, false, &d), 0);
	assert_string_equal(d.uio_name, "uio12");
	assert_int_equal(d.ring_size, 4 * f->page);
	read_rel(f, "bus/vmbus/drivers/uio_hv_generic/new_id", newid, sizeof(newid));
	assert_string_equal(newid, "");
}

typedef struct Kernel {
	const Fixture *f;
	char seen[128]; /* what new_id held when the "kernel" bound the device */
	bool bound;
} Kernel;

/* Plays the kernel: once new_id is written, binds and creates uio7, its maps a little later. */
static void *kernel_thread(void *arg)
{
	Kernel *k = arg;
	char size[64];
	int64_t end = mono_ms() + 3000;

	while (mono_ms() < end) {
		read_rel(k->f, "bus/vmbus/drivers/uio_hv_generic/new_id", k->seen, sizeof(k->seen));
		if (k->seen[0] != '\0')
			break;
		usleep(5000);
	}
	if (k->seen[0] == '\0')
		return NULL;
	symlink_rel(k->f, "../../../../bus/vmbus/drivers/uio_hv_generic",
		    "bus/vmbus/devices/" FCOPY_INST "/driver");
	mkdir_rel(k->f, "bus/vmbus/devices/" FCOPY_INST "/uio/uio7");
	/* The uio device appears before its map attributes: discovery must keep waiting. */
	usleep(120000);
	map_size_text(k->f, 5, size, sizeof(size));
	add_uio(k->f, "uio7", size);
	k->bound = true;
	return NULL;
}

static void test_bind_new_id(void **state)
{
	Fixture *f = *state;
	Kernel k = { .f = f };
	FcopyUioDevice d;
	pthread_t t;
	char expect[PATH_MAX];

	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	assert_int_equal(pthread_create(&t, NULL, kernel_thread, &k), 0);
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), 0);
	assert_int_equal(pthread_join(t, NULL), 0);

	assert_true(k.bound);
	/* The GUID without braces, nothing else (the kernel parses the whole write). */
	assert_string_equal(k.seen, FCOPY_UIO_CLASS_ID);
	assert_string_equal(d.uio_name, "uio7");
	assert_true(snprintf(expect, sizeof(expect), "%s/uio7", f->dev) < (int)sizeof(expect));
	assert_string_equal(d.dev_path, expect);
	assert_int_equal(d.ring_size, 5 * f->page);
}

static void test_bind_timeout(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d = { .ring_size = 42 };
	char newid[128];
	int64_t start, elapsed;

	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	start = mono_ms();
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), -ENXIO);
	elapsed = mono_ms() - start;
	/* Bounded: about FCOPY_UIO_BIND_TIMEOUT_MS, never forever. */
	assert_true(elapsed >= FCOPY_UIO_BIND_TIMEOUT_MS - 10);
	assert_true(elapsed < FCOPY_UIO_BIND_TIMEOUT_MS + 1500);
	read_rel(f, "bus/vmbus/drivers/uio_hv_generic/new_id", newid, sizeof(newid));
	assert_string_equal(newid, FCOPY_UIO_CLASS_ID);
	/* Output untouched on failure. */
	assert_int_equal(d.ring_size, 42);
}

static void test_no_bind(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;
	char newid[128];
	int64_t start = mono_ms();

	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, false, &d), -ENXIO);
	assert_true(mono_ms() - start < 1000);
	read_rel(f, "bus/vmbus/drivers/uio_hv_generic/new_id", newid, sizeof(newid));
	assert_string_equal(newid, "");
}

/* uio_hv_generic not loaded: no new_id to write, so no point in waiting. */
static void test_driver_not_loaded(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;
	int64_t start = mono_ms();

	put(f, "bus/vmbus/devices/" FCOPY_INST "/class_id",
	    "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), -ENXIO);
	assert_true(mono_ms() - start < 1000);
}

/* A new_id that cannot be opened for writing: the errno comes back, nothing is waited for. */
static void test_new_id_unwritable(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;
	char path[PATH_MAX];
	int64_t start = mono_ms();

	put(f, "bus/vmbus/devices/" FCOPY_INST "/class_id",
	    "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	assert_true(snprintf(path, sizeof(path), "%s/bus/vmbus/drivers/uio_hv_generic/new_id",
			     f->sys) < (int)sizeof(path));
	assert_int_equal(mkdir_p(path, 0755), 0);
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), -EISDIR);
	assert_true(mono_ms() - start < 1000);
}

static void test_bound_elsewhere(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;
	char size[64], newid[128];

	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	symlink_rel(f, "../../../../bus/vmbus/drivers/hv_utils",
		    "bus/vmbus/devices/" FCOPY_INST "/driver");
	/* Even with a uio dir lying around, another driver owns the channel. */
	map_size_text(f, 5, size, sizeof(size));
	add_uio(f, "uio0", size);
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), -EBUSY);
	read_rel(f, "bus/vmbus/drivers/uio_hv_generic/new_id", newid, sizeof(newid));
	assert_string_equal(newid, "");
}

static void check_bad_size(Fixture *f, const char *text)
{
	char path[PATH_MAX];
	FcopyUioDevice d;
	int64_t start = mono_ms();

	assert_true(snprintf(path, sizeof(path),
			     "%s/bus/vmbus/devices/" FCOPY_INST "/uio/uio1/maps/map0/size",
			     f->sys) < (int)sizeof(path));
	test_write_text(path, text);
	print_message("size '%s'\n", text);
	/* bind = true: a bad size is final, not something to wait for. */
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), -EBADMSG);
	assert_true(mono_ms() - start < 1000);
}

static void test_bad_map_size(void **state)
{
	Fixture *f = *state;
	char text[64];

	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	add_uio(f, "uio1", "0x0\n");
	check_bad_size(f, "0x0\n");
	check_bad_size(f, "");
	check_bad_size(f, "\n");
	check_bad_size(f, "0x\n");
	check_bad_size(f, "40960\n");	 /* decimal: not how the kernel prints it */
	check_bad_size(f, "0x0xa000\n"); /* strtoull would take a second prefix */
	check_bad_size(f, "0xa000 \n");	 /* trailing junk */
	check_bad_size(f, "-0xa000\n");
	check_bad_size(f, "0x10000000000000000000\n"); /* overflow */
	/* odd */
	assert_true(snprintf(text, sizeof(text), "0x%zx\n", 10 * f->page + 1) < (int)sizeof(text));
	check_bad_size(f, text);
	/* halves that are not a page multiple */
	assert_true(snprintf(text, sizeof(text), "0x%zx\n", 10 * f->page + 2) < (int)sizeof(text));
	check_bad_size(f, text);
	/* one page per direction: a header without data */
	assert_true(snprintf(text, sizeof(text), "0x%zx\n", 2 * f->page) < (int)sizeof(text));
	check_bad_size(f, text);
}

/* A uio node whose map 0 size never appears: -EBADMSG after the bounded wait, or at once. */
static void test_missing_map_size(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;

	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	mkdir_rel(f, "bus/vmbus/devices/" FCOPY_INST "/uio/uio2");
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, false, &d), -EBADMSG);
}

static void test_no_device(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;

	/* Not even a vmbus bus (not Hyper-V). */
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), -ENODEV);
	/* Other vmbus devices only; one class_id is the fcopy id without braces (no match). */
	put(f, "bus/vmbus/devices/" OTHER_INST "/class_id",
	    "{0e0b6031-5213-4934-818b-38d90ced07db}\n");
	put(f, "bus/vmbus/devices/" THIRD_INST "/class_id", FCOPY_UIO_CLASS_ID "\n");
	put(f, "bus/vmbus/drivers/uio_hv_generic/new_id", "");
	assert_int_equal(fcopy_uio_discover(f->sys, f->dev, true, &d), -ENODEV);
}

static void test_dev_path_too_long(void **state)
{
	Fixture *f = *state;
	FcopyUioDevice d;
	char size[64], *dev = malloc(PATH_MAX);

	assert_non_null(dev);
	memset(dev, 'd', PATH_MAX - 3);
	dev[0] = '/';
	dev[PATH_MAX - 3] = '\0';
	add_devices(f, "{34d14be3-dee4-41c8-9ae7-6b174977c192}\n");
	map_size_text(f, 5, size, sizeof(size));
	add_uio(f, "uio3", size);
	assert_int_equal(fcopy_uio_discover(f->sys, dev, false, &d), -ENAMETOOLONG);
	free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_found_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_found_precreated_uio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_new_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver_not_loaded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_id_unwritable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_map_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_map_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dev_path_too_long, setup, teardown),
	};

	return cmocka_run_group_tests_name("fcopy-uio-discover", tests, NULL, NULL);
}
