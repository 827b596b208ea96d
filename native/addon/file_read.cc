// file_read.cc - reading files into native memory on libuv's thread pool.
//
// readFile(path, maxBytes) -> Promise<NativeBytes>
//   Opens without blocking (a FIFO would otherwise hold a pool thread until
//   a writer comes), refuses anything that is not a regular file before
//   reading a byte, allocates off the JavaScript thread (no zero-filling of
//   64 MB there) and reads to the end, growing the buffer with the data
//   actually read: /proc files report size 0 and are read all the same.
// concatBytes(chunks: Uint8Array[]) -> Promise<NativeBytes>
//   Joins chunks (gunzip's output) into one native buffer, off the
//   JavaScript thread.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "addon.h"
#include "bytes.h"
#include "errors.h"
#include "workers.h"

namespace hdrnn_addon {

namespace {

constexpr size_t kFirstCapacity = 64 * 1024; // files that do not know their size (/proc)

class ReadFileWorker : public PromiseWorker {
 public:
  ReadFileWorker(Napi::Env env, std::string path, size_t max_bytes)
      : PromiseWorker(env, "hdrnn:readFile"), path_(std::move(path)), max_(max_bytes) {}

 private:
  void Fail(const char *code, const std::string &message) {
    error_code_ = code;
    status_.code = HDRNN_ERR_SYSTEM;
    std::snprintf(status_.message, sizeof status_.message, "%s", message.c_str());
  }
  void FailErrno(const char *syscall) {
    const int e = errno;
    Fail(ErrnoCode(e), ErrnoMessage(e, syscall, path_));
  }
  void Work() override {
    const int fd = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return FailErrno("open");
    ReadAll(fd);
    close(fd);
  }
  void ReadAll(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) return FailErrno("fstat");
    if (S_ISDIR(st.st_mode)) {
      errno = EISDIR;
      return FailErrno("read");
    }
    if (!S_ISREG(st.st_mode))
      return Fail("ERR_HDRNN_NOT_REGULAR_FILE",
                  path_ + " is not a regular file (a FIFO, device or socket); refused "
                          "before reading");
    // Back to blocking reads: O_NONBLOCK was only for the open.
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if ((uint64_t)st.st_size > max_) return TooBig((uint64_t)st.st_size);
    size_t capacity = st.st_size > 0 ? (size_t)st.st_size : kFirstCapacity;
    if (capacity > max_) capacity = max_;
    auto store = std::make_shared<Store>(capacity, false);
    if (store->data == nullptr) return OutOfMemory(capacity);
    size_t length = 0;
    for (;;) {
      if (length == capacity) {
        // Full: usually the end of the file (it was as long as it said).
        // One byte more tells; only a file longer than it said (or one
        // that said nothing) grows the buffer, never beyond the limit.
        uint8_t probe;
        const ssize_t n = read(fd, &probe, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return FailErrno("read");
        if (n == 0) break;
        if (capacity >= max_) return TooBig((uint64_t)capacity + 1);
        const size_t grown = capacity > max_ / 2 ? max_ : capacity * 2;
        auto bigger = std::make_shared<Store>(grown, false);
        if (bigger->data == nullptr) return OutOfMemory(grown);
        std::memcpy(bigger->data, store->data, length);
        store = std::move(bigger);
        capacity = grown;
        store->data[length++] = probe;
        continue;
      }
      const ssize_t n = read(fd, store->data + length, capacity - length);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno("read");
      if (n == 0) break;
      length += (size_t)n;
    }
    store->size = length; // the rest of the block is simply unused
    store_ = std::move(store);
  }
  void TooBig(uint64_t size) {
    Fail("ERR_HDRNN_LIMIT", path_ + " is " + (size > max_ ? "over " : "") +
                                std::to_string(size > max_ ? max_ : size) +
                                " bytes, more than the limit of " + std::to_string(max_) +
                                " (limits.maxFileBytes)");
  }
  void OutOfMemory(size_t n) {
    Fail("ERR_HDRNN_OUT_OF_MEMORY", "out of memory reading " + path_ + " (" + std::to_string(n) +
                                        " bytes)");
  }
  Napi::Value Result(Napi::Env env) override { return Bytes::Adopt(env, std::move(store_)); }

  std::string path_;
  size_t max_;
  std::shared_ptr<Store> store_;
};

class ConcatWorker : public PromiseWorker {
 public:
  ConcatWorker(Napi::Env env, Napi::Array chunks) : PromiseWorker(env, "hdrnn:concatBytes") {
    hold_ = Napi::Persistent(chunks.As<Napi::Object>());
    for (uint32_t i = 0; i < chunks.Length(); i++) {
      const TypedBytes t = ExpectTypedArray(env, chunks.Get(i), "chunk");
      if (t.type != napi_uint8_array) ThrowType(env, "chunks must be Uint8Arrays");
      if (total_ + t.length < total_) ThrowRange(env, "chunks too large");
      parts_.push_back({t.data, t.length});
      total_ += t.length;
    }
  }

 private:
  void Work() override {
    auto store = std::make_shared<Store>(total_, false);
    if (store->data == nullptr) {
      status_.code = HDRNN_ERR_NO_MEMORY;
      std::snprintf(status_.message, sizeof status_.message, "out of memory (%zu bytes)", total_);
      return;
    }
    size_t at = 0;
    for (const auto &p : parts_) {
      if (p.second > 0) std::memcpy(store->data + at, p.first, p.second);
      at += p.second;
    }
    store_ = std::move(store);
  }
  Napi::Value Result(Napi::Env env) override {
    hold_.Reset();
    return Bytes::Adopt(env, std::move(store_));
  }
  Napi::ObjectReference hold_; // keeps the chunks alive while they are copied
  std::vector<std::pair<const uint8_t *, size_t>> parts_;
  size_t total_ = 0;
  std::shared_ptr<Store> store_;
};

Napi::Value ReadFile(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string path = ExpectPath(env, info[0]);
  const double max = ExpectInteger(env, info[1], "maxBytes", 0, 4294967295.0);
  return Queue<ReadFileWorker>(env, path, (size_t)max);
}

Napi::Value ConcatBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowType(env, "chunks must be an array");
  return Queue<ConcatWorker>(env, info[0].As<Napi::Array>());
}

}  // namespace

void InitFileRead(Napi::Env env, Napi::Object exports) {
  exports.Set("readFile", Napi::Function::New(env, ReadFile, "readFile"));
  exports.Set("concatBytes", Napi::Function::New(env, ConcatBytes, "concatBytes"));
}

}  // namespace hdrnn_addon
