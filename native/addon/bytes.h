// bytes.h - native memory that JavaScript fills and native work reads.
//
// Datasets live here instead of in ordinary ArrayBuffers because training
// reads them on another thread for minutes: a JavaScript ArrayBuffer can be
// transferred to a worker (detached) and freed while we read it. A Store is
// reference-counted; JavaScript sees it through an external ArrayBuffer
// whose finalizer drops one reference, and every native job holds its own,
// so the memory outlives whatever JavaScript does with its view.
#ifndef HDRNN_ADDON_BYTES_H
#define HDRNN_ADDON_BYTES_H

#include <napi.h>

#include <cstddef>
#include <memory>

namespace hdrnn_addon {

struct Store {
  // n bytes, zeroed unless zero is false (memory a reader fills at once).
  explicit Store(size_t n, bool zero = true);
  ~Store();
  Store(const Store &) = delete;
  Store &operator=(const Store &) = delete;
  uint8_t *data = nullptr;
  size_t size = 0;
};

class Bytes : public Napi::ObjectWrap<Bytes> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Bytes(const Napi::CallbackInfo &info);
  ~Bytes() override;
  std::shared_ptr<Store> store() const { return store_; }
  // The Store behind a JS value if it is a Bytes object, else throws TypeError.
  static std::shared_ptr<Store> StoreOf(Napi::Env env, const Napi::Value &v, const char *what);
  // A new NativeBytes object for a store filled by native work.
  static Napi::Object Adopt(Napi::Env env, std::shared_ptr<Store> store);
  static const napi_type_tag kTag;
  static const char *const kName;

  Napi::Value View(const Napi::CallbackInfo &info);
  Napi::Value ByteLength(const Napi::CallbackInfo &info);

 private:
  std::shared_ptr<Store> store_;
  // One external ArrayBuffer per store: V8 must not see two for one pointer.
  Napi::Reference<Napi::ArrayBuffer> view_;
};

void InitBytes(Napi::Env env, Napi::Object exports);

}  // namespace hdrnn_addon

#endif
