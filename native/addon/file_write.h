// file_write.h - creating, writing and flushing a new file (see file_write.cc).
#ifndef HDRNN_ADDON_FILE_WRITE_H
#define HDRNN_ADDON_FILE_WRITE_H

#include <cstddef>
#include <cstdint>
#include <string>

#include "hdrnn.h"

namespace hdrnn_addon {

// Creates `path` (O_EXCL: never follows or truncates what is there), writes
// all n bytes, fsyncs and closes it. Blocking: call it on a pool thread. On
// failure returns false with status (HDRNN_ERR_SYSTEM, fs-worded message)
// and *error_code (Node's errno name) set; the caller removes the file.
bool WriteNewFile(const std::string &path, const uint8_t *data, size_t n, unsigned mode,
                  hdrnn_status *status, const char **error_code);

}  // namespace hdrnn_addon

#endif
