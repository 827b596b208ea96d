// file_write.cc - writing a new file, flushed to disk, in one job on libuv's
// thread pool.
//
// writeNewFile(path, data, mode) -> Promise<void>
//   Creates `path` (it must not exist: O_EXCL, so a link or a file planted
//   there is never followed or truncated), writes all of `data`, fsyncs and
//   closes it. The atomic save (lib/files.ts) writes its temporary file with
//   this and renames it itself. fs.promises' FileHandle.writeFile writes in
//   512 KiB pieces, each a round trip through the JavaScript thread: 128 of
//   them for a 64 MB network, 8-10 ms of that thread's time in all. Here the
//   JavaScript thread only starts the job and settles the promise.
//   `data` is NativeBytes (shared ownership of the memory) or a Uint8Array
//   the job holds a reference to while it writes, as fs.write does.
// WriteNewFile (file_write.h) is the same on any pool thread: a network's
// save encodes and writes with it in one job (workers.cc, EncodeWorker).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "addon.h"
#include "bytes.h"
#include "errors.h"
#include "file_write.h"
#include "workers.h"

namespace hdrnn_addon {

namespace {

bool FailErrno(int e, const char *syscall, const std::string &path, hdrnn_status *status,
               const char **error_code) {
  *error_code = ErrnoCode(e);
  status->code = HDRNN_ERR_SYSTEM;
  std::snprintf(status->message, sizeof status->message, "%s", ErrnoMessage(e, syscall, path).c_str());
  return false;
}

}  // namespace

bool WriteNewFile(const std::string &path, const uint8_t *data, size_t n, unsigned mode,
                  hdrnn_status *status, const char **error_code) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, (mode_t)mode);
  if (fd < 0) return FailErrno(errno, "open", path, status, error_code);
  size_t at = 0;
  while (at < n) {
    const ssize_t k = write(fd, data + at, n - at);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      const int e = errno;
      close(fd);
      return FailErrno(e, "write", path, status, error_code);
    }
    at += (size_t)k;
  }
  if (fsync(fd) != 0) {
    const int e = errno;
    close(fd);
    return FailErrno(e, "fsync", path, status, error_code);
  }
  // A failed close can be the first report of a failed write (NFS).
  if (close(fd) != 0 && errno != EINTR) return FailErrno(errno, "close", path, status, error_code);
  return true;
}

namespace {

class WriteNewFileWorker : public PromiseWorker {
 public:
  WriteNewFileWorker(Napi::Env env, std::string path, Napi::Value data, unsigned mode)
      : PromiseWorker(env, "hdrnn:writeNewFile"), path_(std::move(path)), mode_(mode) {
    if (data.IsObject() && data.As<Napi::Object>().CheckTypeTag(&Bytes::kTag)) {
      store_ = Bytes::StoreOf(env, data, "data");
      bytes_ = store_->data;
      length_ = store_->size;
    } else {
      const TypedBytes t = ExpectTypedArray(env, data, "data");
      if (t.type != napi_uint8_array) ThrowType(env, "data must be NativeBytes or a Uint8Array");
      hold_ = Napi::Persistent(data.As<Napi::Object>());
      bytes_ = t.data;
      length_ = t.length;
    }
  }

 private:
  void Work() override { WriteNewFile(path_, bytes_, length_, mode_, &status_, &error_code_); }
  Napi::Value Result(Napi::Env env) override {
    hold_.Reset();
    return env.Undefined();
  }

  std::string path_;
  unsigned mode_;
  std::shared_ptr<Store> store_;  // NativeBytes: shared ownership
  Napi::ObjectReference hold_;    // a Uint8Array: kept alive while written
  const uint8_t *bytes_ = nullptr;
  size_t length_ = 0;
};

Napi::Value WriteNewFileJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string path = ExpectPath(env, info[0]);
  const double mode = ExpectInteger(env, info[2], "mode", 0, 07777);
  return Queue<WriteNewFileWorker>(env, path, info[1], (unsigned)mode);
}

}  // namespace

void InitFileWrite(Napi::Env env, Napi::Object exports) {
  exports.Set("writeNewFile", Napi::Function::New(env, WriteNewFileJs, "writeNewFile"));
}

}  // namespace hdrnn_addon
