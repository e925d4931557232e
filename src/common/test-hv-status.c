/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/hv-status.h"
#include "common/macro.h"

static void test_success_is_ok(void **state)
{
	assert_int_equal(hv_status_from_errno(0), HV_S_OK);
	assert_int_equal(hv_status_from_errno(1), HV_S_OK);
	assert_int_equal(hv_status_from_errno(7432), HV_S_OK);
}

static void test_mapping_table(void **state)
{
	static const struct {
		int r;
		uint32_t status;
	} table[] = {
		{ -ENOENT, HV_S_CONT },
		{ -EINVAL, HV_INVALIDARG },
		{ -EILSEQ, HV_INVALIDARG },
		{ -E2BIG, HV_INVALIDARG },
		{ -ERANGE, HV_INVALIDARG },
		{ -EOPNOTSUPP, HV_ERROR_NOT_SUPPORTED },
		{ -EPERM, HV_ERROR_NOT_SUPPORTED },
		{ -EROFS, HV_ERROR_NOT_SUPPORTED },
		{ -ENODEV, HV_GUID_NOTFOUND },
		{ -EEXIST, HV_ERROR_ALREADY_EXISTS },
		{ -ENOSPC, HV_ERROR_DISK_FULL },
		{ -EDQUOT, HV_ERROR_DISK_FULL },
		{ -EIO, HV_E_FAIL },
		{ -ENOMEM, HV_E_FAIL },
		{ -ETIMEDOUT, HV_E_FAIL },
		{ -EACCES, HV_E_FAIL },
		{ -9999, HV_E_FAIL },
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		assert_int_equal(hv_status_from_errno(table[i].r), table[i].status);
}

static void test_to_string(void **state)
{
	assert_string_equal(hv_status_to_string(HV_S_OK), "HV_S_OK");
	assert_string_equal(hv_status_to_string(HV_E_FAIL), "HV_E_FAIL");
	assert_string_equal(hv_status_to_string(HV_S_CONT), "HV_S_CONT");
	assert_string_equal(hv_status_to_string(HV_INVALIDARG), "HV_INVALIDARG");
	assert_string_equal(hv_status_to_string(HV_GUID_NOTFOUND), "HV_GUID_NOTFOUND");
	assert_string_equal(hv_status_to_string(HV_ERROR_DISK_FULL), "HV_ERROR_DISK_FULL");
	assert_string_equal(hv_status_to_string(HV_ERROR_ALREADY_EXISTS),
			    "HV_ERROR_ALREADY_EXISTS");
	assert_string_equal(hv_status_to_string(HV_ERROR_NOT_SUPPORTED), "HV_ERROR_NOT_SUPPORTED");
	assert_string_equal(hv_status_to_string(0x12345678), "unknown");
}

/* Every status the mapping can produce has a name. */
static void test_mapped_statuses_have_names(void **state)
{
	for (int e = 0; e < 200; e++)
		assert_string_not_equal(hv_status_to_string(hv_status_from_errno(-e)), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_is_ok),
		cmocka_unit_test(test_mapping_table),
		cmocka_unit_test(test_to_string),
		cmocka_unit_test(test_mapped_statuses_have_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
