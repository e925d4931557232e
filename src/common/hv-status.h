/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V IC status codes (uapi linux/hyperv.h) and the one errno -> status mapping.
 * HV_* values appear only here and at reply boundaries.
 */
#pragma once

#include <stdint.h>

#define HV_S_OK UINT32_C(0x00000000)
#define HV_E_FAIL UINT32_C(0x80004005)
#define HV_S_CONT UINT32_C(0x80070103)
#define HV_ERROR_NOT_SUPPORTED UINT32_C(0x80070032)
#define HV_ERROR_MACHINE_LOCKED UINT32_C(0x800704F7)
#define HV_ERROR_DEVICE_NOT_CONNECTED UINT32_C(0x8007048F)
#define HV_INVALIDARG UINT32_C(0x80070057)
#define HV_GUID_NOTFOUND UINT32_C(0x80041002)
#define HV_ERROR_ALREADY_EXISTS UINT32_C(0x80070050)
#define HV_ERROR_DISK_FULL UINT32_C(0x80070070)

/*
 * r >= 0 -> HV_S_OK; -ENOENT (not found, end of enumeration) -> HV_S_CONT;
 * -EINVAL, -EILSEQ, -E2BIG, -ERANGE (bad host input) -> HV_INVALIDARG;
 * -EOPNOTSUPP, -EPERM, -EROFS (operation not allowed on that pool/service) ->
 * HV_ERROR_NOT_SUPPORTED; -ENODEV (adapter not found) -> HV_GUID_NOTFOUND;
 * -EEXIST -> HV_ERROR_ALREADY_EXISTS; -ENOSPC, -EDQUOT -> HV_ERROR_DISK_FULL;
 * anything else -> HV_E_FAIL.
 */
uint32_t hv_status_from_errno(int r);

/* "HV_S_OK", "HV_E_FAIL", ...: the macro name of a known status, or "unknown". Never NULL. */
const char *hv_status_to_string(uint32_t status);
