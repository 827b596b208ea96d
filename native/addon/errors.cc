// errors.cc - see errors.h.
#include "errors.h"

#include <string>

namespace hdrnn_addon {

const char *ErrorCode(hdrnn_code code) {
  switch (code) {
    case HDRNN_OK: return "ERR_HDRNN_OK";
    case HDRNN_ERR_ARGUMENT: return "ERR_HDRNN_INVALID_ARGUMENT";
    case HDRNN_ERR_NO_MEMORY: return "ERR_HDRNN_OUT_OF_MEMORY";
    case HDRNN_ERR_LIMIT: return "ERR_HDRNN_LIMIT";
    case HDRNN_ERR_FORMAT: return "ERR_HDRNN_BAD_FILE";
    case HDRNN_ERR_TRUNCATED: return "ERR_HDRNN_BAD_FILE";
    case HDRNN_ERR_CHECKSUM: return "ERR_HDRNN_CHECKSUM";
    case HDRNN_ERR_UNSUPPORTED: return "ERR_HDRNN_UNSUPPORTED";
    case HDRNN_ERR_MISMATCH: return "ERR_HDRNN_SHAPE_MISMATCH";
    case HDRNN_ERR_SYSTEM: return "ERR_HDRNN_SYSTEM";
    case HDRNN_ERR_DIVERGED: return "ERR_HDRNN_DIVERGED";
    case HDRNN_ERR_CANCELLED: return "ERR_HDRNN_CANCELLED";
  }
  return "ERR_HDRNN_UNKNOWN";
}

Napi::Error MakeError(Napi::Env env, const char *code, const std::string &message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

Napi::Error MakeError(Napi::Env env, const hdrnn_status &status) {
  std::string message = status.message[0] != '\0' ? status.message : hdrnn_code_name(status.code);
  Napi::Error error = status.code == HDRNN_ERR_ARGUMENT ? Napi::RangeError::New(env, message)
                                                        : Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrorCode(status.code)));
  return error;
}

}  // namespace hdrnn_addon
