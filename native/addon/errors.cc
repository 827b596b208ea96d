// errors.cc - see errors.h.
#include "errors.h"

#include <cctype>
#include <cerrno>
#include <cstring>
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

const char *ErrnoCode(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EEXIST: return "EEXIST";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EFBIG: return "EFBIG";
    case EROFS: return "EROFS";
    default: return "ERR_HDRNN_SYSTEM";
  }
}

std::string ErrnoMessage(int e, const char *syscall, const std::string &path) {
  std::string text = std::strerror(e);
  if (!text.empty()) text[0] = (char)std::tolower((unsigned char)text[0]); // as Node words it
  return std::string(ErrnoCode(e)) + ": " + text + ", " + syscall + " '" + path + "'";
}

}  // namespace hdrnn_addon
