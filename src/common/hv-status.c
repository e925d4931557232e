/* SPDX-License-Identifier: MIT */
/*
 * The single errno -> Hyper-V IC status mapping (values from uapi linux/hyperv.h).
 */
#include <errno.h>
#include <stddef.h>

#include "common/hv-status.h"
#include "common/macro.h"

uint32_t hv_status_from_errno(int r)
{
	if (r >= 0)
		return HV_S_OK;

	switch (-r) {
	case ENOENT:
		/* KVP: key not found / end of enumeration */
		return HV_S_CONT;
	case EINVAL:
	case EILSEQ:
	case E2BIG:
	case ERANGE:
		return HV_INVALIDARG;
	case EOPNOTSUPP:
	case EPERM:
	case EROFS:
		return HV_ERROR_NOT_SUPPORTED;
	case ENODEV:
		return HV_GUID_NOTFOUND;
	case EEXIST:
		return HV_ERROR_ALREADY_EXISTS;
	case ENOSPC:
	case EDQUOT:
		return HV_ERROR_DISK_FULL;
	default:
		return HV_E_FAIL;
	}
}

const char *hv_status_to_string(uint32_t status)
{
	static const struct {
		uint32_t status;
		const char *name;
	} table[] = {
		{ HV_S_OK, "HV_S_OK" },
		{ HV_E_FAIL, "HV_E_FAIL" },
		{ HV_S_CONT, "HV_S_CONT" },
		{ HV_ERROR_NOT_SUPPORTED, "HV_ERROR_NOT_SUPPORTED" },
		{ HV_ERROR_MACHINE_LOCKED, "HV_ERROR_MACHINE_LOCKED" },
		{ HV_ERROR_DEVICE_NOT_CONNECTED, "HV_ERROR_DEVICE_NOT_CONNECTED" },
		{ HV_INVALIDARG, "HV_INVALIDARG" },
		{ HV_GUID_NOTFOUND, "HV_GUID_NOTFOUND" },
		{ HV_ERROR_ALREADY_EXISTS, "HV_ERROR_ALREADY_EXISTS" },
		{ HV_ERROR_DISK_FULL, "HV_ERROR_DISK_FULL" },
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (table[i].status == status)
			return table[i].name;
	return "unknown";
}
