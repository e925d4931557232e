/* SPDX-License-Identifier: MIT */
/*
 * The golden files ($TESTDATA/ipconfig) checked by each manager's own parser, offline:
 *  - netplan:  netplan's "generate" on a temporary --root-dir (package netplan.io)
 *  - ifupdown: ifquery -i <file> (package ifupdown)
 *  - networkd: systemd-networkd itself, started in a mount + network namespace of our own
 *              with the file on a private tmpfs, its parse diagnostics read back (root only)
 *  - NetworkManager: libnm's keyfile reader and nm_connection_verify() through python3-gi
 *              (packages gir1.2-nm-1.0, python3-gi)
 *  - ifcfg:    /bin/sh sourcing the file, as initscripts do
 * A test skips when its tool is missing. Tool paths can be overridden by NETPLAN_GENERATE,
 * IFQUERY, SYSTEMD_NETWORKD and PYTHON3; LD_LIBRARY_PATH and GI_TYPELIB_PATH are passed on
 * (to use unpacked packages). Every checker also gets a broken file that it must reject,
 * so a checker that accepts anything cannot pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hook.h"

static const char *const cases[] = { "static4", "dhcp4", "mixed", "multigw" };

static char *golden(const char *backend, const char *c)
{
	char path[4096], *text = NULL;
	const char *dir = getenv("TESTDATA");

	if (!dir)
		fail_msg("TESTDATA is not set (run through meson test)");
	snprintf(path, sizeof(path), "%s/ipconfig/%s-%s.golden", dir, backend, c);
	assert_int_equal(read_full_file_at(AT_FDCWD, path, 1 << 20, &text, NULL), 0);
	return text;
}

static void write_file(const char *path, const char *content, mode_t mode)
{
	char dir[4096];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(mkdir_p(dir, 0755), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	assert_true(fd >= 0);
	assert_int_equal(loop_write(fd, content, strlen(content)), 0);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	(void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The first of: $env, then the candidates, that is executable; NULL if none. */
static const char *find_tool(const char *env, const char *const *candidates)
{
	const char *v = getenv(env);

	if (v)
		return access(v, X_OK) == 0 ? v : NULL;
	for (; *candidates; candidates++)
		if (access(*candidates, X_OK) == 0)
			return *candidates;
	return NULL;
}

/* LD_LIBRARY_PATH and GI_TYPELIB_PATH from our environment, for the hook's clean one. */
static void passthrough_env(char *buf[3], char storage[2][4200])
{
	static const char *const names[] = { "LD_LIBRARY_PATH", "GI_TYPELIB_PATH" };
	size_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		const char *v = getenv(names[i]);

		if (!v)
			continue;
		snprintf(storage[n], sizeof(storage[n]), "%s=%s", names[i], v);
		buf[n] = storage[n];
		n++;
	}
	buf[n] = NULL;
}

/* Runs argv with a 30 s deadline; *ret holds the outcome. */
static void run_tool(const char *const *argv, HookResult *ret)
{
	char *env[3], storage[2][4200];

	passthrough_env(env, storage);
	assert_int_equal(hook_run(argv, (const char *const *)env, 30000000u, ret), 0);
}

/* ---- netplan ---- */

static bool netplan_accepts(const char *generate, const char *yaml, char **ret_err)
{
	char root[] = "/tmp/test-ipconfig-netplan-XXXXXX", path[256], rootarg[256];
	HookResult res = { 0 };
	bool ok;

	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/etc/netplan/90-hvguest-eth0.yaml", root);
	write_file(path, yaml, 0600); /* netplan warns about anything more open */
	snprintf(rootarg, sizeof(rootarg), "%s", root);
	{
		const char *argv[] = { generate, "--root-dir", rootarg, NULL };

		run_tool(argv, &res);
	}
	snprintf(path, sizeof(path), "%s/run/systemd/network/10-netplan-eth0.network", root);
	/* warnings (conflicting default routes, permissions) count as failures too */
	ok = hook_result_success(&res) && !strstr(res.err, "WARNING") &&
	     !strstr(res.err, "Error") && access(path, F_OK) == 0;
	*ret_err = strdup(res.err);
	hook_result_done(&res);
	rm_rf(root);
	return ok;
}

static void test_netplan_generate(void **state)
{
	static const char *const candidates[] = { "/usr/libexec/netplan/generate",
						  "/usr/lib/netplan/generate",
						  "/lib/netplan/generate", NULL };
	const char *generate = find_tool("NETPLAN_GENERATE", candidates);
	char *err, *bad;

	if (!generate)
		skip();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *yaml = golden("netplan", cases[i]);

		if (!netplan_accepts(generate, yaml, &err))
			fail_msg("netplan rejects netplan-%s.golden:\n%s", cases[i], err);
		free(err);
		free(yaml);
	}
	/* control: two default routes with the same metric are a netplan error */
	bad = golden("netplan", "multigw");
	*strstr(bad, "          metric: 4096\n") = '\0';
	assert_false(netplan_accepts(generate, bad, &err));
	free(err);
	free(bad);
}

/* ---- ifupdown ---- */

static bool ifquery_accepts(const char *ifquery, const char *text, const char *const *expect,
			    char **ret_out)
{
	char dir[] = "/tmp/test-ipconfig-ifupdown-XXXXXX", path[256], state[300];
	HookResult res = { 0 };
	bool ok;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/interfaces", dir);
	snprintf(state, sizeof(state), "--state-dir=%s/state", dir);
	write_file(path, text, 0644);
	{
		const char *argv[] = { ifquery, "-i", path, state, "eth0", NULL };

		run_tool(argv, &res);
	}
	ok = hook_result_success(&res);
	for (; ok && *expect; expect++)
		ok = strstr(res.out, *expect) != NULL;
	if (asprintf(ret_out, "%s%s", res.out, res.err) < 0)
		*ret_out = NULL;
	hook_result_done(&res);
	rm_rf(dir);
	return ok;
}

static void test_ifquery(void **state)
{
	static const char *const candidates[] = { "/usr/sbin/ifquery", "/sbin/ifquery", NULL };
	/* what ifquery must report back for each case: the options as it understood them */
	static const char *const expect[][6] = {
		{ "address: 192.168.1.14\n", "netmask: 255.255.255.0\n", "address: 192.168.1.15\n",
		  "gateway: 192.168.1.1\n", "dns-nameservers: 192.168.1.2 192.168.1.3\n", NULL },
		{ NULL },
		{ "address: 2001:db8::14\n", "netmask: 64\n", "gateway: 2001:db8::1\n", NULL },
		{ "address: 10.0.0.5\n", "gateway: fe80::1\n", "address: 2001:db8::6\n",
		  "up: ip -4 route add default via 10.0.0.254 dev eth0 metric 4096\n", NULL },
	};
	const char *ifquery = find_tool("IFQUERY", candidates);
	char *out;

	if (!ifquery)
		skip();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *text = golden("ifupdown", cases[i]);

		if (!ifquery_accepts(ifquery, text, expect[i], &out))
			fail_msg("ifquery on ifupdown-%s.golden:\n%s", cases[i], strna(out));
		free(out);
		free(text);
	}
	/* control: an unknown method */
	assert_false(ifquery_accepts(ifquery, "auto eth0\niface eth0 inet bogus\n",
				     (const char *const[]){ NULL }, &out));
	free(out);
}

/* ---- systemd-networkd ---- */

/*
 * Child: private mount and network namespaces, tmpfs over /etc/systemd/network and /run,
 * the files in place, then exec networkd with its log on our pipe. Never returns.
 */
static void _noreturn_ networkd_child(const char *networkd, int out, const char *const *names,
				      const char *const *texts)
{
	static char target[] = "SYSTEMD_LOG_TARGET=console", level[] = "SYSTEMD_LOG_LEVEL=debug",
		    color[] = "SYSTEMD_LOG_COLOR=0";
	char *const envp[] = { target, level, color, NULL };
	char path[512];

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0)
		_exit(77);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/etc/systemd/network", "tmpfs", 0, "mode=0755") < 0 ||
	    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
		_exit(77);
	for (size_t i = 0; names[i]; i++) {
		int fd;

		snprintf(path, sizeof(path), "/etc/systemd/network/%s", names[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || loop_write(fd, texts[i], strlen(texts[i])) < 0)
			_exit(78);
		close(fd);
	}
	if (dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0)
		_exit(78);
	execle(networkd, networkd, (char *)NULL, envp);
	_exit(79);
}

/* networkd's log until it has read its configuration and enumerated links (or 10 s). */
static char *networkd_log(const char *networkd, const char *const *names, const char *const *texts)
{
	char *log = calloc(1, 1 << 20);
	size_t len = 0;
	int p[2], status;
	pid_t pid;
	struct timespec t0, t;

	assert_non_null(log);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		networkd_child(networkd, p[1], names, texts);
	close(p[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10 || strstr(log, "Enumeration completed"))
			break;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(p[0], log + len, (1 << 20) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(p[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		free(log);
		return NULL; /* no namespaces for us: not root, or a restricted container */
	}
	return log;
}

static void test_networkd_parser(void **state)
{
	static const char *const candidates[] = { "/lib/systemd/systemd-networkd",
						  "/usr/lib/systemd/systemd-networkd", NULL };
	const char *networkd = find_tool("SYSTEMD_NETWORKD", candidates);
	const char *names[ELEMENTSOF(cases) + 2], *texts[ELEMENTSOF(cases) + 2];
	char namebuf[ELEMENTSOF(cases)][64], *log;

	if (!networkd || geteuid() != 0 || access("/etc/systemd/network", F_OK) != 0)
		skip();
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		snprintf(namebuf[i], sizeof(namebuf[i]), "10-hvguest-%s.network", cases[i]);
		names[i] = namebuf[i];
		texts[i] = golden("networkd", cases[i]);
	}
	/* control: what networkd must complain about */
	names[ELEMENTSOF(cases)] = "99-broken.network";
	texts[ELEMENTSOF(cases)] = "[Match]\nName=eth9\n\n[Network]\nAdress=10.0.0.1/8\n"
				   "Gateway=ra\n";
	names[ELEMENTSOF(cases) + 1] = NULL;
	texts[ELEMENTSOF(cases) + 1] = NULL;

	log = networkd_log(networkd, names, texts);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		free((char *)texts[i]);
	if (!log)
		skip();
	if (!strstr(log, "99-broken.network:5: Unknown key") ||
	    !strstr(log, "99-broken.network:6:"))
		fail_msg("networkd did not report the broken control file; its log:\n%s", log);
	if (strstr(log, "10-hvguest-"))
		fail_msg("networkd complains about a golden file:\n%s", log);
	free(log);
}

/* ---- NetworkManager ---- */

static const char nm_checker[] =
	"import sys\n"
	"try:\n"
	"    import gi\n"
	"    gi.require_version('NM', '1.0')\n"
	"    from gi.repository import NM, GLib\n"
	"    NM.keyfile_read\n"
	"except Exception as e:\n"
	"    print('no libnm keyfile reader:', e)\n"
	"    sys.exit(77)\n"
	"problems = []\n"
	"def handler(kf, conn, htype, hdata, user):\n"
	"    if htype == NM.KeyfileHandlerType.WARN:\n"
	"        problems.append('warning: ' + hdata.warn_get()[0])\n"
	"    return False\n"
	"kf = GLib.KeyFile()\n"
	"kf.load_from_file(sys.argv[1], GLib.KeyFileFlags.NONE)\n"
	"try:\n"
	"    c = NM.keyfile_read(kf, '/etc/NetworkManager/system-connections',\n"
	"                        NM.KeyfileHandlerFlags.NONE, handler, None)\n"
	"    c.verify()\n"
	"except GLib.Error as e:\n"
	"    problems.append('error: ' + e.message)\n"
	"for p in problems:\n"
	"    print(p)\n"
	"if problems:\n"
	"    sys.exit(1)\n"
	"s4, s6 = c.get_setting_ip4_config(), c.get_setting_ip6_config()\n"
	"print(c.get_id(), c.get_uuid(), c.get_interface_name(),\n"
	"      s4.get_method(), s4.get_num_addresses(), s4.get_gateway(), s4.get_num_routes(),\n"
	"      s4.get_num_dns(), s6.get_method(), s6.get_num_addresses(), s6.get_gateway(),\n"
	"      s6.get_num_routes(), s6.get_num_dns())\n";

/* Exit status of the checker on text (77: no libnm); its output in *ret_out. */
static int nm_check(const char *python, const char *dir, const char *text, char **ret_out)
{
	char script[256], file[256];
	HookResult res = { 0 };
	int status;

	snprintf(script, sizeof(script), "%s/check.py", dir);
	snprintf(file, sizeof(file), "%s/hvguest-eth0.nmconnection", dir);
	write_file(script, nm_checker, 0644);
	write_file(file, text, 0600);
	{
		const char *argv[] = { python, script, file, NULL };

		run_tool(argv, &res);
	}
	status = res.exited ? res.exit_status : -1;
	if (asprintf(ret_out, "%s%s", res.out, res.err) < 0)
		*ret_out = NULL;
	hook_result_done(&res);
	return status;
}

static void test_nm_keyfile_reader(void **state)
{
	static const char *const candidates[] = { "/usr/bin/python3", NULL };
	/* method, addresses, gateway, routes, DNS servers per family, as libnm read them */
	static const char *const expect[] = {
		"manual 2 192.168.1.1 0 2 auto 0 None 0 0",
		"auto 0 None 0 0 auto 0 None 0 0",
		"manual 1 192.168.1.1 0 1 manual 1 2001:db8::1 0 1",
		"auto 1 10.0.0.1 1 1 manual 2 fe80::1 1 0",
	};
	const char *python = find_tool("PYTHON3", candidates);
	char dir[] = "/tmp/test-ipconfig-nm-XXXXXX", *out;
	int r;

	if (!python)
		skip();
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char *text = golden("networkmanager", cases[i]);

		r = nm_check(python, dir, text, &out);
		free(text);
		if (r == 77) {
			free(out);
			rm_rf(dir);
			skip();
		}
		if (r != 0 || !strstr(out, expect[i]) || !strstr(out, "hvguest-eth0"))
			fail_msg("libnm on networkmanager-%s.golden (exit %d):\n%s\nexpected: %s",
				 cases[i], r, strna(out), expect[i]);
		free(out);
	}
	/* control: a gateway without addresses is refused by nm_connection_verify() */
	r = nm_check(python, dir,
		     "[connection]\nid=x\nuuid=90173616-ba4d-82e8-ba49-82ff90159b3a\n"
		     "type=ethernet\n[ipv4]\nmethod=auto\ngateway=10.0.0.1\n",
		     &out);
	assert_int_equal(r, 1);
	free(out);
	rm_rf(dir);
}

/* ---- ifcfg ---- */

static void test_ifcfg_shell(void **state)
{
	static const char *const backends[] = { "ifcfg", "script-ifcfg" };
	char dir[] = "/tmp/test-ipconfig-ifcfg-XXXXXX", file[256];

	if (access("/bin/sh", X_OK) != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/ifcfg-eth0", dir);
	for (size_t b = 0; b < ELEMENTSOF(backends); b++) {
		for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
			char *text = golden(backends[b], cases[i]), want[256];
			HookResult res = { 0 };
			/* initscripts source the file; the values must come out unchanged */
			const char *argv[] = { "/bin/sh",
					       "-c",
					       "set -eu; . \"$1\"; printf '%s|%s|%s|%s\\n' "
					       "\"$DEVICE\" \"$HWADDR\" \"$BOOTPROTO\" "
					       "\"${IPV6ADDR_SECONDARIES-}\"",
					       "sh",
					       file,
					       NULL };

			write_file(file, text, 0644);
			run_tool(argv, &res);
			snprintf(want, sizeof(want), "eth0|00:15:5D:12:34:56|%s|%s\n",
				 strcmp(cases[i], "dhcp4") == 0 || strcmp(cases[i], "multigw") == 0
					 ? "dhcp"
					 : "none",
				 b == 0 && strcmp(cases[i], "multigw") == 0 ? "2001:db8::6/64"
									    : "");
			if (!hook_result_success(&res) || strcmp(res.out, want) != 0)
				fail_msg("sh on %s-%s.golden: %s%s", backends[b], cases[i], res.out,
					 res.err);
			hook_result_done(&res);
			free(text);
		}
	}
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netplan_generate), cmocka_unit_test(test_ifquery),
		cmocka_unit_test(test_networkd_parser),	 cmocka_unit_test(test_nm_keyfile_reader),
		cmocka_unit_test(test_ifcfg_shell),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
