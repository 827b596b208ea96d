// parsers.cc - IDX headers (checked against the bytes, O(1), so synchronous)
// and PGM decoding (on the thread pool).
#include "parsers.h"

#include <string>

#include "addon.h"
#include "bytes.h"
#include "errors.h"
#include "workers.h"

namespace hdrnn_addon {

namespace {

// parseIdx(bytes: NativeBytes, kind: 'images' | 'labels', limits?)
//   -> { count, rows, cols, offset } (a view: the data starts at offset)
Napi::Value ParseIdx(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Store> store = Bytes::StoreOf(env, info[0], "bytes");
  const std::string kind = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  const hdrnn_limits limits = ExpectLimits(env, info[2]);
  hdrnn_status status;
  Napi::Object o = Napi::Object::New(env);
  if (kind == "images") {
    hdrnn_idx_images images;
    if (hdrnn_idx_parse_images(store->data, store->size, &limits, &images, &status) != HDRNN_OK)
      throw MakeError(env, status);
    o.Set("count", Napi::Number::New(env, images.count));
    o.Set("rows", Napi::Number::New(env, images.rows));
    o.Set("cols", Napi::Number::New(env, images.cols));
    o.Set("offset", Napi::Number::New(env, (double)(images.pixels - store->data)));
  } else if (kind == "labels") {
    hdrnn_idx_labels labels;
    if (hdrnn_idx_parse_labels(store->data, store->size, &limits, &labels, &status) != HDRNN_OK)
      throw MakeError(env, status);
    o.Set("count", Napi::Number::New(env, labels.count));
    o.Set("offset", Napi::Number::New(env, (double)(labels.labels - store->data)));
  } else {
    ThrowType(env, "kind must be 'images' or 'labels'");
  }
  return o;
}

// decodePgm(bytes: NativeBytes, limits?) -> Promise<{ width, height, maxval, binary, pixels }>
Napi::Value DecodePgm(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Store> store = Bytes::StoreOf(env, info[0], "bytes");
  const hdrnn_limits limits = ExpectLimits(env, info[1]);
  return StartDecodePgm(env, store, 0, store->size, limits);
}

}  // namespace

void InitParsers(Napi::Env env, Napi::Object exports) {
  exports.Set("parseIdx", Napi::Function::New(env, ParseIdx, "parseIdx"));
  exports.Set("decodePgm", Napi::Function::New(env, DecodePgm, "decodePgm"));
}

}  // namespace hdrnn_addon
