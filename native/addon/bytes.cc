// bytes.cc - see bytes.h.
#include "bytes.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "addon.h"
#include "errors.h"
#include "release.h"
#include "type_tags.h"
#include "workers.h"

namespace hdrnn_addon {

// Tags a JS object as one of ours so a look-alike cannot be unwrapped.
const napi_type_tag Bytes::kTag = {0x6864726e6e427974ULL, 0x65730001a5c3e1f7ULL};
const char *const Bytes::kName = "NativeBytes";
// Marks the External carrying a Store into the constructor (Adopt).
static const napi_type_tag kAdoptStoreTag = {0x6864726e6e427974ULL, 0x41646f7074000003ULL};

Store::Store(size_t n, bool zero) : size(n) {
  // 64-byte aligned so float views are aligned for SIMD loads.
  void *p = nullptr;
  if (posix_memalign(&p, 64, n > 0 ? n : 64) == 0) data = static_cast<uint8_t *>(p);
  if (data != nullptr && zero) std::memset(data, 0, n);
}

Store::~Store() { std::free(data); }

Napi::Function Bytes::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeBytes", {});
  DefineOnPrototype(env, ctor,
                    {CheckedMethod("view", Checked<Bytes, &Bytes::View>),
                     CheckedGetter("byteLength", Checked<Bytes, &Bytes::ByteLength>)});
  return ctor;
}

Napi::Object Bytes::Adopt(Napi::Env env, std::shared_ptr<Store> store) {
  auto *hold = new std::shared_ptr<Store>(std::move(store));
  Napi::External<std::shared_ptr<Store>> ext = Napi::External<std::shared_ptr<Store>>::New(
      env, hold, [](Napi::Env, std::shared_ptr<Store> *h) { delete h; });
  ext.TypeTag(&kAdoptStoreTag);
  return Data(env).bytes_constructor.New({ext});
}

Bytes::Bytes(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Bytes>(info) {
  Napi::Env env = info.Env();
  if (info.Length() == 1 && info[0].IsExternal()) { // from Adopt()
    auto ext = info[0].As<Napi::External<std::shared_ptr<Store>>>();
    if (!ext.CheckTypeTag(&kAdoptStoreTag)) ThrowType(env, "byteLength must be a number");
    store_ = *ext.Data();
    info.This().As<Napi::Object>().TypeTag(&kTag);
    Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)store_->size);
    return;
  }
  // Upper bound: what a 32-bit device could address at all; real caps are
  // checked by the TypeScript layer against the caller's limits.
  const double n = ExpectInteger(env, info[0], "byteLength", 0, 4294967295.0);
  auto store = std::make_shared<Store>((size_t)n);
  if (store->data == nullptr)
    throw MakeError(env, "ERR_HDRNN_OUT_OF_MEMORY",
                    "out of memory allocating " + std::to_string((size_t)n) + " bytes");
  store_ = std::move(store);
  info.This().As<Napi::Object>().TypeTag(&kTag);
  // Tell V8 about the native memory, so dropped datasets get collected.
  Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)store_->size);
}

Bytes::~Bytes() {
  if (!store_) return;
  const size_t size = store_->size;
  napi_adjust_external_memory(Env(), -(int64_t)size, nullptr);
  ReleaseLater(std::move(store_), size);
}

Napi::Value Bytes::View(const Napi::CallbackInfo &info) {
  if (view_.IsEmpty()) {
    auto *hold = new std::shared_ptr<Store>(store_);
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        info.Env(), store_->data, store_->size,
        [](Napi::Env, void *, std::shared_ptr<Store> *h) {
          const size_t size = (*h)->size;
          ReleaseLater(std::move(*h), size);
          delete h;
        },
        hold);
    view_ = Napi::Persistent(buffer);
  }
  return view_.Value();
}

Napi::Value Bytes::ByteLength(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), (double)store_->size);
}

std::shared_ptr<Store> Bytes::StoreOf(Napi::Env env, const Napi::Value &v, const char *what) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kTag))
    ThrowType(env, std::string(what) + " must be native bytes (build datasets with "
                                       "createDataset or loadMnist)");
  return Napi::ObjectWrap<Bytes>::Unwrap(v.As<Napi::Object>())->store_;
}

namespace {

// allocBytes(n) -> Promise<NativeBytes>: n zeroed bytes, allocated and
// zeroed (the kernel's page faults included) on a pool thread: `new
// NativeBytes(n)` does that on the JavaScript thread, ~10 ms for 64 MiB.
class AllocWorker : public PromiseWorker {
 public:
  AllocWorker(Napi::Env env, size_t n) : PromiseWorker(env, "hdrnn:allocBytes"), n_(n) {}

 private:
  void Work() override {
    auto store = std::make_shared<Store>(n_);
    if (store->data == nullptr) {
      status_.code = HDRNN_ERR_NO_MEMORY;
      std::snprintf(status_.message, sizeof status_.message, "out of memory allocating %zu bytes", n_);
      return;
    }
    store_ = std::move(store);
  }
  Napi::Value Result(Napi::Env env) override { return Bytes::Adopt(env, std::move(store_)); }
  size_t n_;
  std::shared_ptr<Store> store_;
};

Napi::Value AllocBytes(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const double n = ExpectInteger(env, info[0], "byteLength", 0, 4294967295.0);
  return Queue<AllocWorker>(env, (size_t)n);
}

}  // namespace

void InitBytes(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Bytes::Define(env);
  Data(env).bytes_constructor = Napi::Persistent(ctor);
  exports.Set("NativeBytes", ctor);
  exports.Set("allocBytes", Napi::Function::New(env, AllocBytes, "allocBytes"));
}

}  // namespace hdrnn_addon
