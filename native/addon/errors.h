// errors.h - C status codes to JavaScript errors with a stable `code`.
#ifndef HDRNN_ADDON_ERRORS_H
#define HDRNN_ADDON_ERRORS_H

#include <napi.h>

#include <string>

#include "hdrnn.h"

namespace hdrnn_addon {

// The `code` property JavaScript sees for a C status code, e.g. ERR_HDRNN_BAD_FILE.
const char *ErrorCode(hdrnn_code code);
// An Error (TypeError/RangeError for argument codes) carrying code and message.
Napi::Error MakeError(Napi::Env env, const hdrnn_status &status);
Napi::Error MakeError(Napi::Env env, const char *code, const std::string &message);
// Node's name for an errno ("ENOENT"), so callers see the codes fs gives them,
// and a message worded as fs words it: "ENOENT: no such file or directory, open 'x'".
const char *ErrnoCode(int e);
std::string ErrnoMessage(int e, const char *syscall, const std::string &path);

}  // namespace hdrnn_addon

#endif
