/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "kvp/kvp-osinfo.h"

static const char debian12[] = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
			       "NAME=\"Debian GNU/Linux\"\n"
			       "VERSION_ID=\"12\"\n"
			       "VERSION=\"12 (bookworm)\"\n"
			       "VERSION_CODENAME=bookworm\n"
			       "ID=debian\n"
			       "HOME_URL=\"https://www.debian.org/\"\n";

static const char ubuntu2204[] = "PRETTY_NAME=\"Ubuntu 22.04.4 LTS\"\n"
				 "NAME=\"Ubuntu\"\n"
				 "VERSION_ID=\"22.04\"\n"
				 "VERSION=\"22.04.4 LTS (Jammy Jellyfish)\"\n"
				 "ID=ubuntu\n"
				 "ID_LIKE=debian\n";

static const char rhel9[] = "NAME=\"Red Hat Enterprise Linux\"\n"
			    "VERSION=\"9.3 (Plow)\"\n"
			    "ID=\"rhel\"\n"
			    "ID_LIKE=\"fedora\"\n"
			    "VERSION_ID=\"9.3\"\n"
			    "PLATFORM_ID=\"platform:el9\"\n"
			    "PRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\n"
			    "ANSI_COLOR=\"0;31\"\n";

static char *get(const char *text, const char *key)
{
	char *v = NULL;
	int r = os_release_get(text, strlen(text), key, &v);

	if (r == -ENOENT)
		return NULL;
	assert_int_equal(r, 0);
	assert_non_null(v);
	return v;
}

static void assert_get(const char *text, const char *key, const char *expected)
{
	char *v = get(text, key);

	if (!expected) {
		if (v)
			fail_msg("%s: expected no value, got \"%s\"", key, v);
		return;
	}
	if (!v)
		fail_msg("%s: expected \"%s\", got nothing", key, expected);
	assert_string_equal(v, expected);
	free(v);
}

static struct utsname uts(const char *sysname, const char *release, const char *machine)
{
	struct utsname u = {};

	strncpy(u.sysname, sysname, sizeof(u.sysname) - 1);
	strncpy(u.release, release, sizeof(u.release) - 1);
	strncpy(u.machine, machine, sizeof(u.machine) - 1);
	strncpy(u.nodename, "node", sizeof(u.nodename) - 1);
	return u;
}

static void test_distros(void **state)
{
	assert_get(debian12, "NAME", "Debian GNU/Linux");
	assert_get(debian12, "VERSION_ID", "12");
	assert_get(debian12, "VERSION_CODENAME", "bookworm");
	assert_get(debian12, "ID", "debian");
	assert_get(debian12, "PRETTY_NAME", "Debian GNU/Linux 12 (bookworm)");
	assert_get(ubuntu2204, "NAME", "Ubuntu");
	assert_get(ubuntu2204, "VERSION_ID", "22.04");
	assert_get(rhel9, "NAME", "Red Hat Enterprise Linux");
	assert_get(rhel9, "VERSION_ID", "9.3");
	assert_get(rhel9, "ANSI_COLOR", "0;31");
	/* Prefix of a longer key and suffix matches are not matches. */
	assert_get(rhel9, "VERSION_", NULL);
	assert_get(rhel9, "ID_LIK", NULL);
	assert_get(rhel9, "PLATFORM", NULL);
	assert_get(rhel9, "LOGO", NULL);
}

static void test_quotes_and_escapes(void **state)
{
	assert_get("A=\"x \\\"y\\\" \\\\ \\$HOME \\`z\\`\"\n", "A", "x \"y\" \\ $HOME `z`");
	/* Backslash before other characters is kept inside double quotes. */
	assert_get("A=\"a\\nb\"\n", "A", "a\\nb");
	/* Single quotes: everything literal, backslashes included. */
	assert_get("A='it\\s \"quoted\"'\n", "A", "it\\s \"quoted\"");
	/* Unquoted backslash escapes the next character. */
	assert_get("A=foo\\ bar\n", "A", "foo bar");
	/* Pieces concatenate. */
	assert_get("A=ab\"c d\"'e f'g\n", "A", "abc de fg");
	/* Empty values. */
	assert_get("A=\nB=\"\"\nC=''\n", "A", "");
	assert_get("A=\nB=\"\"\nC=''\n", "B", "");
	assert_get("A=\nB=\"\"\nC=''\n", "C", "");
	/* UTF-8 passes through. */
	assert_get("NAME=\"Caf\xc3\xa9 OS\"\n", "NAME", "Caf\xc3\xa9 OS");
	/* Trailing comment and blanks, CRLF line ends, leading blanks. */
	assert_get("A=\"v\"   # comment\n", "A", "v");
	assert_get("A=v\r\nB=w\r\n", "A", "v");
	assert_get("  \tA=v\n", "A", "v");
	/* No final newline. */
	assert_get("X=1\nA=last", "A", "last");
}

static void test_comments_blank_missing(void **state)
{
	const char *t = "# NAME=commented\n"
			"\n"
			"   \n"
			"\t# VERSION_ID=1\n"
			"ID=x\n";

	assert_get(t, "NAME", NULL);
	assert_get(t, "VERSION_ID", NULL);
	assert_get(t, "ID", "x");
	assert_get("", "NAME", NULL);
	assert_get("\n\n\n", "NAME", NULL);

	char *v = (char *)0x1;
	assert_int_equal(os_release_get(NULL, 0, "NAME", &v), -ENOENT);
	assert_ptr_equal(v, (char *)0x1); /* untouched on failure */
}

static void test_malformed_lines(void **state)
{
	/* Each malformed assignment is skipped; a valid one elsewhere still counts. */
	assert_get("NAME=\"unterminated\nNAME2=x\n", "NAME", NULL);
	assert_get("NAME='unterminated\n", "NAME", NULL);
	assert_get("NAME=two words\n", "NAME", NULL);
	assert_get("NAME = spaced\n", "NAME", NULL);
	assert_get("NAME\n", "NAME", NULL);
	assert_get("1NAME=x\n", "1NAME", NULL);
	assert_get("NAME=trailing\\\n", "NAME", NULL);
	assert_get("NAME=\"ok\"junk more\n", "NAME", NULL);
	assert_get("export NAME=x\n", "NAME", NULL);
	assert_get("=novalue\nNAME=good\n", "NAME", "good");
	assert_get("NAME=\"broken\nNAME=good\n", "NAME", "good");
	/* The last valid assignment wins; a later malformed one does not erase it. */
	assert_get("NAME=first\nNAME=second\nNAME=\"bad\n", "NAME", "second");

	/* An embedded NUL makes the line malformed, not truncated. */
	static const char nul[] = "NAME=a\0b\nID=x\n";
	char *v = NULL;
	assert_int_equal(os_release_get(nul, sizeof(nul) - 1, "NAME", &v), -ENOENT);
	assert_int_equal(os_release_get(nul, sizeof(nul) - 1, "ID", &v), 0);
	assert_string_equal(v, "x");
	free(v);

	/* len bounds the text: "NAME=abc" cut after "NAME=a". */
	assert_int_equal(os_release_get("NAME=abc", 6, "NAME", &v), 0);
	assert_string_equal(v, "a");
	free(v);
}

static void test_huge_lines(void **state)
{
	size_t n = 1 << 20;
	char *t = malloc(n + 64);
	char *v = NULL;

	assert_non_null(t);
	/* A megabyte-long comment, then a megabyte-long quoted value. */
	memset(t, 'x', n);
	t[0] = '#';
	memcpy(t + n, "\nNAME=ok\n", sizeof("\nNAME=ok\n"));
	assert_int_equal(os_release_get(t, strlen(t), "NAME", &v), 0);
	assert_string_equal(v, "ok");
	free(v);

	memcpy(t, "NAME=\"", 6);
	memset(t + 6, 'y', n - 7);
	t[n - 1] = '"';
	t[n] = '\n';
	assert_int_equal(os_release_get(t, n + 1, "NAME", &v), 0);
	assert_int_equal(strlen(v), n - 7);
	assert_int_equal(v[0], 'y');
	free(v);
	free(t);
}

static void test_fill_debian(void **state)
{
	struct utsname u = uts("Linux", "6.1.0-18-amd64", "x86_64");
	KvpOsInfo i = {};

	assert_int_equal(kvp_osinfo_fill(debian12, strlen(debian12), &u, &i), 0);
	assert_string_equal(i.os_name, "Debian GNU/Linux");
	assert_string_equal(i.major_version, "12");
	assert_string_equal(i.minor_version, "");
	assert_string_equal(i.build_number, "6.1.0-18-amd64");
	assert_string_equal(i.os_version, "6.1.0");
	assert_string_equal(i.processor_arch, "x86_64");
	kvp_osinfo_done(&i);
	assert_null(i.os_name);
}

static void test_fill_ubuntu_rhel(void **state)
{
	struct utsname u = uts("Linux", "5.15.0-101-generic", "x86_64");
	KvpOsInfo i = {};

	assert_int_equal(kvp_osinfo_fill(ubuntu2204, strlen(ubuntu2204), &u, &i), 0);
	assert_string_equal(i.os_name, "Ubuntu");
	assert_string_equal(i.major_version, "22");
	assert_string_equal(i.minor_version, "04");
	assert_string_equal(i.os_version, "5.15.0");
	kvp_osinfo_done(&i);

	u = uts("Linux", "5.14.0-362.8.1.el9_3.aarch64", "aarch64");
	assert_int_equal(kvp_osinfo_fill(rhel9, strlen(rhel9), &u, &i), 0);
	assert_string_equal(i.os_name, "Red Hat Enterprise Linux");
	assert_string_equal(i.major_version, "9");
	assert_string_equal(i.minor_version, "3");
	assert_string_equal(i.build_number, "5.14.0-362.8.1.el9_3.aarch64");
	assert_string_equal(i.os_version, "5.14.0");
	assert_string_equal(i.processor_arch, "aarch64");
	kvp_osinfo_done(&i);

	/* Several dots: major up to the first, minor is the rest. */
	u = uts("Linux", "6.8.9", "x86_64");
	assert_int_equal(kvp_osinfo_fill("VERSION_ID=8.10.1\n", 18, &u, &i), 0);
	assert_string_equal(i.major_version, "8");
	assert_string_equal(i.minor_version, "10.1");
	assert_string_equal(i.os_version, "6.8.9"); /* no '-': whole release */
	assert_string_equal(i.os_name, "Linux");
	kvp_osinfo_done(&i);
}

static void test_fill_fallbacks(void **state)
{
	struct utsname u = uts("Linux", "6.6.6-custom", "riscv64");
	KvpOsInfo i = {};

	/* No file at all. */
	assert_int_equal(kvp_osinfo_fill(NULL, 0, &u, &i), 0);
	assert_string_equal(i.os_name, "Linux");
	assert_string_equal(i.major_version, "");
	assert_string_equal(i.minor_version, "");
	assert_string_equal(i.os_version, "6.6.6");
	assert_string_equal(i.processor_arch, "riscv64");
	kvp_osinfo_done(&i);

	/* Empty NAME falls back to the sysname too; malformed NAME counts as missing. */
	assert_int_equal(kvp_osinfo_fill("NAME=\"\"\n", 8, &u, &i), 0);
	assert_string_equal(i.os_name, "Linux");
	kvp_osinfo_done(&i);
	assert_int_equal(kvp_osinfo_fill("NAME=\"Foo\n", 10, &u, &i), 0);
	assert_string_equal(i.os_name, "Linux");
	kvp_osinfo_done(&i);

	/* VERSION_ID starting with a dot: empty major. */
	assert_int_equal(kvp_osinfo_fill("VERSION_ID=.5\n", 14, &u, &i), 0);
	assert_string_equal(i.major_version, "");
	assert_string_equal(i.minor_version, "5");
	kvp_osinfo_done(&i);

	/* Release starting with '-': empty OSVersion, full build number. */
	u = uts("Linux", "-weird", "x86_64");
	assert_int_equal(kvp_osinfo_fill("", 0, &u, &i), 0);
	assert_string_equal(i.os_version, "");
	assert_string_equal(i.build_number, "-weird");
	kvp_osinfo_done(&i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distros),
		cmocka_unit_test(test_quotes_and_escapes),
		cmocka_unit_test(test_comments_blank_missing),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_huge_lines),
		cmocka_unit_test(test_fill_debian),
		cmocka_unit_test(test_fill_ubuntu_rhel),
		cmocka_unit_test(test_fill_fallbacks),
	};

	return cmocka_run_group_tests_name("kvp-osinfo", tests, NULL, NULL);
}
