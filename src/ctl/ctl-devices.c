/* SPDX-License-Identifier: MIT */
/*
 * hvctl devices: the VMBus devices of this guest (ctl-devices.h). Enumeration is by libudev
 * or a directory; attribute reading, sorting and printing are shared by both.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libudev.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/macro.h"
#include "ctl/ctl-devices.h"
#include "ctl/ctl-json.h"

/* Length of a GUID in its text form, without braces: 8-4-4-4-12. */
#define GUID_STRING_LEN 36u

typedef struct VmbusClass {
	const char *guid; /* lower case, no braces */
	const char *name;
} VmbusClass;

/*
 * Class GUIDs the host offers (the kernel's include/linux/hyperv.h, HV_*_GUID), named as the
 * host's settings and lsvmbus name them.
 */
static const VmbusClass vmbus_classes[] = {
	{ "f8615163-df3e-46c5-913f-f2d2f965ed0e", "Synthetic network adapter" },
	{ "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f", "Synthetic SCSI controller" },
	{ "32412632-86cb-44a2-9b5c-50d1417354f5", "Synthetic IDE controller" },
	{ "57164f39-9115-4e78-ab55-382f3bd5422d", "Heartbeat" },
	{ "a9a0f4e7-5a45-4d96-b827-8a841e8c03e6", "Data Exchange (KVP)" },
	{ "0e0b6031-5213-4934-818b-38d90ced39db", "Operating system shutdown" },
	{ "9527e630-d0ae-497b-adce-e80ab0175caf", "Time synchronization" },
	{ "35fa2e29-ea23-4236-96ae-3a6ebacba440", "VSS (backup)" },
	{ "34d14be3-dee4-41c8-9ae7-6b174977c192", "Guest services (file copy)" },
	{ "525074dc-8985-46e2-8057-a307dc18a502", "Dynamic memory" },
	{ "cfa8b69e-5b4a-4cc0-b98b-8ba1a1f3f95a", "Synthetic mouse" },
	{ "f912ad6d-2b17-48ea-bd65-f927a61c7684", "Synthetic keyboard" },
	{ "da0a7802-e377-4aac-8e77-0558eb1073f8", "Synthetic video" },
	{ "2f9bcc4a-0069-4af3-b76b-6fd0be528cda", "Synthetic Fibre Channel adapter" },
	{ "44c4f61d-4444-4400-9d52-802e27ede19f", "PCI Express pass-through" },
	{ "8c2eaf3d-32a7-4b09-ab99-bd1f1c86b501", "NetworkDirect (guest RDMA)" },
	{ "f8e65716-3cb3-4a06-9a60-1889c5cccab5", "Automatic VM activation" },
	{ "3375baf4-9e15-4b30-b765-67acb10d607b", "Automatic VM activation (2)" },
	{ "276aacf4-ac15-426c-98dd-7521ad3f01fe", "Remote desktop virtualization" },
	{ "c376c1c3-d276-48d2-90a9-c04748072c60", "Initial machine configuration" },
};

const char *ctl_vmbus_class_name(const char *class_id)
{
	size_t len;

	if (!class_id)
		return "Unknown";
	if (class_id[0] == '{')
		class_id++;
	len = strlen(class_id);
	if (len > 0 && class_id[len - 1] == '}')
		len--;
	if (len != GUID_STRING_LEN)
		return "Unknown";
	for (size_t i = 0; i < ELEMENTSOF(vmbus_classes); i++)
		if (strncasecmp(vmbus_classes[i].guid, class_id, GUID_STRING_LEN) == 0)
			return vmbus_classes[i].name;
	return "Unknown";
}

void ctl_vmbus_device_done(CtlVmbusDevice *d)
{
	if (!d)
		return;
	free(d->name);
	free(d->class_id);
	free(d->device_id);
	free(d->driver);
	free(d->vendor);
	free(d->device);
	free(d->numa_node);
	free(d->vp_mapping);
	*d = (CtlVmbusDevice){ 0 };
}

void ctl_vmbus_devices_free(CtlVmbusDevice *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		ctl_vmbus_device_done(&v[i]);
	free(v);
}

/*
 * One attribute, trailing whitespace removed and inner newlines turned into spaces (the
 * multi-line channel_vp_mapping). *ret = NULL when it cannot be read; only -ENOMEM fails.
 */
static int read_attr(int dir_fd, const char *attr, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t size;
	int r;

	*ret = NULL;
	r = read_full_file_at(dir_fd, attr, CTL_VMBUS_ATTR_MAX, &buf, &size);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		log_debug("Cannot read VMBus attribute '%s', showing it as unknown: %s", attr,
			  strerror(-r));
		return 0;
	}
	/* A NUL inside would silently cut the value: treat the file as unreadable. */
	if (strlen(buf) != size)
		return 0;
	while (size > 0 && (buf[size - 1] == '\n' || buf[size - 1] == ' ' || buf[size - 1] == '\t'))
		buf[--size] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = ' ';
	*ret = TAKE_PTR(buf);
	return 0;
}

/* A GUID attribute ("{…}"), normalised to lower case without braces; NULL if malformed. */
static int read_guid_attr(int dir_fd, const char *attr, char **ret)
{
	_cleanup_free_ char *s = NULL;
	const char *g;
	size_t len;
	char *out;
	int r;

	*ret = NULL;
	r = read_attr(dir_fd, attr, &s);
	if (r < 0 || !s)
		return r;
	g = s[0] == '{' ? s + 1 : s;
	len = strlen(g);
	if (len > 0 && g[len - 1] == '}')
		len--;
	if (len != GUID_STRING_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? g[i] != '-' : !strchr("0123456789abcdefABCDEF", g[i]))
			return 0;
	}
	out = strndup(g, len);
	if (!out)
		return -ENOMEM;
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	*ret = out;
	return 0;
}

/* The relid: decimal, fits in 32 bits. false if unreadable or malformed. */
static int read_id_attr(int dir_fd, uint32_t *ret, bool *ret_valid)
{
	_cleanup_free_ char *s = NULL;
	unsigned long v;
	char *end;
	int r;

	*ret_valid = false;
	r = read_attr(dir_fd, "id", &s);
	if (r < 0 || !s)
		return r;
	if (s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > UINT32_MAX)
		return 0;
	*ret = (uint32_t)v;
	*ret_valid = true;
	return 0;
}

/* The driver symlink's last component. No link: unbound; an unreadable one: bound, NULL. */
static int read_driver(int dir_fd, CtlVmbusDevice *d)
{
	char target[4096];
	const char *base;
	ssize_t k;

	k = readlinkat(dir_fd, "driver", target, sizeof(target) - 1);
	if (k < 0) {
		d->bound = errno != ENOENT;
		return 0;
	}
	d->bound = true;
	if ((size_t)k >= sizeof(target) - 1)
		return 0; /* possibly truncated: unreadable */
	target[k] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (base[0] == '\0')
		return 0;
	d->driver = strdup(base);
	return d->driver ? 0 : -ENOMEM;
}

int ctl_vmbus_device_read(int dir_fd, const char *name, CtlVmbusDevice *ret)
{
	_cleanup_(ctl_vmbus_device_done) CtlVmbusDevice d = { 0 };
	_cleanup_close_ int fd = -EBADF;
	int r;

	*ret = (CtlVmbusDevice){ 0 };
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	d.name = strdup(name);
	if (!d.name)
		return -ENOMEM;
	r = read_guid_attr(fd, "class_id", &d.class_id);
	if (r >= 0)
		r = read_guid_attr(fd, "device_id", &d.device_id);
	if (r >= 0)
		r = read_id_attr(fd, &d.id, &d.has_id);
	if (r >= 0)
		r = read_driver(fd, &d);
	if (r >= 0)
		r = read_attr(fd, "vendor", &d.vendor);
	if (r >= 0)
		r = read_attr(fd, "device", &d.device);
	if (r >= 0)
		r = read_attr(fd, "numa_node", &d.numa_node);
	if (r >= 0)
		r = read_attr(fd, "channel_vp_mapping", &d.vp_mapping);
	if (r < 0)
		return r;
	*ret = d;
	d = (CtlVmbusDevice){ 0 };
	return 0;
}

static int device_compare(const void *a, const void *b)
{
	const CtlVmbusDevice *x = a, *y = b;

	if (x->has_id != y->has_id)
		return x->has_id ? -1 : 1;
	if (x->has_id && x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return strcmp(x->name, y->name);
}

void ctl_vmbus_devices_sort(CtlVmbusDevice *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), device_compare);
}

/* Appends the device dir_fd/name to *v (growing it); a vanished device is skipped. */
static int devices_add(CtlVmbusDevice **v, size_t *n, int dir_fd, const char *name)
{
	CtlVmbusDevice d, *nv;
	int r;

	r = ctl_vmbus_device_read(dir_fd, name, &d);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		log_debug("Skipping VMBus device '%s': %s", name, strerror(-r));
		return 0;
	}
	nv = reallocarray(*v, *n + 1, sizeof(**v));
	if (!nv) {
		ctl_vmbus_device_done(&d);
		return -ENOMEM;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

int ctl_vmbus_devices_scan_dir(const char *sysfs_dir, CtlVmbusDevice **ret, size_t *ret_n)
{
	_cleanup_free_ char *path = NULL;
	CtlVmbusDevice *v = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *dir;
	int r = 0;

	if (asprintf(&path, "%s/bus/vmbus/devices", sysfs_dir) < 0)
		return -ENOMEM;
	dir = opendir(path);
	if (!dir) {
		if (errno != ENOENT)
			return negative_errno();
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	while ((errno = 0, de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		r = devices_add(&v, &n, dirfd(dir), de->d_name);
		if (r < 0)
			break;
	}
	if (r >= 0 && errno != 0)
		r = negative_errno();
	closedir(dir);
	if (r < 0) {
		ctl_vmbus_devices_free(v, n);
		return r;
	}
	ctl_vmbus_devices_sort(v, n);
	*ret = v;
	*ret_n = n;
	return 0;
}

static void udev_enumerate_unrefp(struct udev_enumerate **e)
{
	if (*e)
		udev_enumerate_unref(*e);
}

static void udev_unrefp(struct udev **u)
{
	if (*u)
		udev_unref(*u);
}

int ctl_vmbus_devices_scan_udev(CtlVmbusDevice **ret, size_t *ret_n)
{
	_cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
	_cleanup_(udev_unrefp) struct udev *udev = NULL;
	struct udev_list_entry *entry;
	CtlVmbusDevice *v = NULL;
	size_t n = 0;
	int r;

	udev = udev_new();
	if (!udev)
		return -ENOMEM;
	e = udev_enumerate_new(udev);
	if (!e)
		return -ENOMEM;
	r = udev_enumerate_add_match_subsystem(e, "vmbus");
	if (r >= 0)
		r = udev_enumerate_scan_devices(e);
	if (r < 0)
		return r;
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e))
	{
		/* The syspath is absolute, so the dir fd is ignored by openat(). */
		r = devices_add(&v, &n, AT_FDCWD, udev_list_entry_get_name(entry));
		if (r < 0) {
			ctl_vmbus_devices_free(v, n);
			return r;
		}
	}
	/* ctl_vmbus_device_read() named each device by its syspath: keep the last component. */
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(v[i].name, '/');

		if (slash && slash[1] != '\0')
			memmove(v[i].name, slash + 1, strlen(slash + 1) + 1);
	}
	ctl_vmbus_devices_sort(v, n);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Escapes s for the terminal ("?" for NULL) into a malloc'ed *ret; *ret_width its width. */
static int text_field(const char *s, char **ret, size_t *ret_width)
{
	int r = ctl_text_escape(s ? s : "?", ret, ret_width);

	return r < 0 ? r : 0;
}

/* Writes s padded with spaces to width columns (no padding if wider). */
static void pad(FILE *f, size_t shown, size_t width)
{
	for (size_t i = shown; i < width; i++)
		fputc(' ', f);
}

enum { COL_ID, COL_CLASS, COL_INSTANCE, COL_DRIVER, _COL_MAX };

int ctl_vmbus_print_table(FILE *f, const CtlVmbusDevice *v, size_t n)
{
	static const char *const header[_COL_MAX] = { "VMBUS ID", "CLASS", "INSTANCE", "DRIVER" };
	size_t width[_COL_MAX];
	char ***cells = NULL;
	size_t **widths = NULL;
	int r = 0;

	for (size_t c = 0; c < _COL_MAX; c++)
		width[c] = strlen(header[c]);
	cells = calloc(n ? n : 1, sizeof(*cells));
	widths = calloc(n ? n : 1, sizeof(*widths));
	if (!cells || !widths) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		char id[16];
		const char *raw[_COL_MAX];

		cells[i] = calloc(_COL_MAX, sizeof(char *));
		widths[i] = calloc(_COL_MAX, sizeof(size_t));
		if (!cells[i] || !widths[i]) {
			r = -ENOMEM;
			break;
		}
		if (v[i].has_id)
			snprintf(id, sizeof(id), "%" PRIu32, v[i].id);
		raw[COL_ID] = v[i].has_id ? id : NULL;
		raw[COL_CLASS] = ctl_vmbus_class_name(v[i].class_id);
		raw[COL_INSTANCE] = v[i].device_id;
		raw[COL_DRIVER] = v[i].bound ? v[i].driver : "-";
		for (size_t c = 0; c < _COL_MAX && r >= 0; c++) {
			r = text_field(raw[c], &cells[i][c], &widths[i][c]);
			if (r >= 0)
				width[c] = MAX(width[c], widths[i][c]);
		}
	}
	if (r < 0)
		goto out;

	/* The id column is right-aligned (numbers), the others left-aligned. */
	for (size_t c = 0; c < _COL_MAX; c++) {
		if (c == COL_ID)
			pad(f, strlen(header[c]), width[c]);
		fputs(header[c], f);
		if (c + 1 < _COL_MAX) {
			if (c != COL_ID)
				pad(f, strlen(header[c]), width[c]);
			fputs("  ", f);
		}
	}
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < _COL_MAX; c++) {
			if (c == COL_ID)
				pad(f, widths[i][c], width[c]);
			fputs(cells[i][c], f);
			if (c + 1 < _COL_MAX) {
				if (c != COL_ID)
					pad(f, widths[i][c], width[c]);
				fputs("  ", f);
			}
		}
		fputc('\n', f);
	}
	r = ferror(f) ? -EIO : 0;
out:
	for (size_t i = 0; i < n && cells && widths; i++) {
		for (size_t c = 0; cells[i] && c < _COL_MAX; c++)
			free(cells[i][c]);
		free(cells[i]);
		free(widths[i]);
	}
	free(cells);
	free(widths);
	return r;
}

/* "  Label:       value" with value escaped, "?" for NULL. */
static int print_line(FILE *f, const char *label, const char *value)
{
	_cleanup_free_ char *e = NULL;
	int r;

	r = text_field(value, &e, NULL);
	if (r < 0)
		return r;
	fprintf(f, "  %-13s%s\n", label, e);
	return 0;
}

int ctl_vmbus_print_verbose(FILE *f, const CtlVmbusDevice *v, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r >= 0; i++) {
		const CtlVmbusDevice *d = &v[i];

		if (i > 0)
			fputc('\n', f);
		if (d->has_id)
			fprintf(f, "VMBus ID %" PRIu32 ": %s\n", d->id,
				ctl_vmbus_class_name(d->class_id));
		else
			fprintf(f, "VMBus ID ?: %s\n", ctl_vmbus_class_name(d->class_id));
		r = print_line(f, "Class ID:", d->class_id);
		if (r >= 0)
			r = print_line(f, "Instance:", d->device_id);
		if (r >= 0)
			r = print_line(f, "Driver:", d->bound ? d->driver : "-");
		if (r >= 0)
			r = print_line(f, "Vendor:", d->vendor);
		if (r >= 0)
			r = print_line(f, "Device:", d->device);
		if (r >= 0)
			r = print_line(f, "NUMA node:", d->numa_node);
		/* relid:cpu pairs: which virtual CPU each of the device's channels interrupts. */
		if (r >= 0)
			r = print_line(f, "Channels:", d->vp_mapping);
		if (r >= 0)
			r = print_line(f, "Sysfs name:", d->name);
	}
	if (r < 0)
		return r;
	return ferror(f) ? -EIO : 0;
}

/* A JSON string, or null for NULL. */
static void json_string_or_null(FILE *f, const char *s)
{
	if (s)
		ctl_json_print_string(f, s);
	else
		fputs("null", f);
}

/* numa_node as a JSON number when it is a decimal integer, null otherwise. */
static void json_numa(FILE *f, const char *s)
{
	long v;
	char *end;

	if (!s || !s[0]) {
		fputs("null", f);
		return;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		fputs("null", f);
	else
		fprintf(f, "%ld", v);
}

/* channel_vp_mapping ("18:0 19:2") as [{"relid":18,"cpu":0},…]; null if malformed. */
static void json_channels(FILE *f, const char *s)
{
	unsigned long relid, cpu;
	const char *p = s;
	char *end;
	bool first = true;

	if (!s) {
		fputs("null", f);
		return;
	}
	/* Validate the whole value first, so no partial array is written. */
	for (; *p; p = end) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p < '0' || *p > '9')
			goto malformed;
		relid = strtoul(p, &end, 10);
		if (*end != ':' || end[1] < '0' || end[1] > '9')
			goto malformed;
		cpu = strtoul(end + 1, &end, 10);
		if ((*end != ' ' && *end != '\0') || relid > UINT32_MAX || cpu > UINT32_MAX)
			goto malformed;
	}
	fputc('[', f);
	for (p = s; *p; p = end) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		relid = strtoul(p, &end, 10);
		cpu = strtoul(end + 1, &end, 10);
		fprintf(f, "%s{\"relid\":%lu,\"cpu\":%lu}", first ? "" : ",", relid, cpu);
		first = false;
	}
	fputc(']', f);
	return;
malformed:
	fputs("null", f);
}

int ctl_vmbus_print_json(FILE *f, const CtlVmbusDevice *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		const CtlVmbusDevice *d = &v[i];

		fputs(i ? ",{" : "{", f);
		if (d->has_id)
			fprintf(f, "\"id\":%" PRIu32, d->id);
		else
			fputs("\"id\":null", f);
		fputs(",\"class\":", f);
		ctl_json_print_string(f, ctl_vmbus_class_name(d->class_id));
		fputs(",\"class_id\":", f);
		json_string_or_null(f, d->class_id);
		fputs(",\"device_id\":", f);
		json_string_or_null(f, d->device_id);
		fprintf(f, ",\"bound\":%s,\"driver\":", d->bound ? "true" : "false");
		json_string_or_null(f, d->driver);
		fputs(",\"sysfs_name\":", f);
		json_string_or_null(f, d->name);
		fputs(",\"vendor\":", f);
		json_string_or_null(f, d->vendor);
		fputs(",\"device\":", f);
		json_string_or_null(f, d->device);
		fputs(",\"numa_node\":", f);
		json_numa(f, d->numa_node);
		fputs(",\"channels\":", f);
		json_channels(f, d->vp_mapping);
		fputc('}', f);
	}
	fputs("]\n", f);
	return ferror(f) ? -EIO : 0;
}

CtlExit ctl_devices(const CtlOptions *o, char *const *args)
{
	CtlVmbusDevice *v = NULL;
	size_t n = 0;
	int r;

	(void)args;
	if (o->sysfs_dir)
		r = ctl_vmbus_devices_scan_dir(o->sysfs_dir, &v, &n);
	else
		r = ctl_vmbus_devices_scan_udev(&v, &n);
	if (r == -ENOMEM) {
		log_oom();
		return CTL_EXIT_IO;
	}
	if (r < 0) {
		log_error_errno(r, "Cannot list the VMBus devices: %m");
		return CTL_EXIT_IO;
	}

	/* No devices is the normal state of a machine that is not a Hyper-V guest. */
	if (n == 0 && !o->json)
		printf("No VMBus devices (not a Hyper-V guest?)\n");
	else if (o->json)
		r = ctl_vmbus_print_json(stdout, v, n);
	else if (o->verbose)
		r = ctl_vmbus_print_verbose(stdout, v, n);
	else
		r = ctl_vmbus_print_table(stdout, v, n);
	ctl_vmbus_devices_free(v, n);
	if (r >= 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r == -ENOMEM) {
		log_oom();
		return CTL_EXIT_IO;
	}
	if (r < 0) {
		log_error_errno(r, "Cannot write the device list: %m");
		return CTL_EXIT_IO;
	}
	return CTL_EXIT_OK;
}
