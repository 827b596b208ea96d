// external.h - results handed to JavaScript without a copy on its thread.
//
// A worker fills a std::vector off the JavaScript thread; copying it into a
// new ArrayBuffer on the JavaScript thread zero-fills and then copies it (a
// 64 MiB network or image: tens of milliseconds of frozen event loop, and
// the data held twice). Instead the vector itself backs an external
// ArrayBuffer, freed by its finalizer, and V8 is told of its size.
#ifndef HDRNN_ADDON_EXTERNAL_H
#define HDRNN_ADDON_EXTERNAL_H

#include <napi.h>

#include <cstring>
#include <vector>

#include "release.h"

namespace hdrnn_addon {

template <typename T>
Napi::ArrayBuffer ExternalBuffer(Napi::Env env, std::vector<T> &&values) {
  if (values.empty()) return Napi::ArrayBuffer::New(env, 0);
  auto *owned = new std::vector<T>(std::move(values));
  const size_t bytes = owned->size() * sizeof(T);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, owned->data(), bytes,
      [](Napi::Env e, void *, std::vector<T> *v) {
        const size_t n = v->size() * sizeof(T);
        napi_adjust_external_memory(e, -(int64_t)n, nullptr);
        ReleaseLater(std::unique_ptr<std::vector<T>>(v), n);
      },
      owned);
  Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)bytes);
  return buffer;
}

inline Napi::Float32Array ExternalFloats(Napi::Env env, std::vector<float> &&values) {
  const size_t n = values.size();
  return Napi::Float32Array::New(env, n, ExternalBuffer(env, std::move(values)), 0);
}

inline Napi::Uint32Array ExternalUint32(Napi::Env env, std::vector<uint32_t> &&values) {
  const size_t n = values.size();
  return Napi::Uint32Array::New(env, n, ExternalBuffer(env, std::move(values)), 0);
}

inline Napi::Buffer<uint8_t> ExternalBytes(Napi::Env env, std::vector<uint8_t> &&values) {
  if (values.empty()) return Napi::Buffer<uint8_t>::New(env, 0);
  auto *owned = new std::vector<uint8_t>(std::move(values));
  const size_t n = owned->size();
  Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::New(
      env, owned->data(), n,
      [](Napi::Env e, uint8_t *, std::vector<uint8_t> *v) {
        const size_t n = v->size();
        napi_adjust_external_memory(e, -(int64_t)n, nullptr);
        ReleaseLater(std::unique_ptr<std::vector<uint8_t>>(v), n);
      },
      owned);
  Napi::MemoryManagement::AdjustExternalMemory(env, (int64_t)n);
  return buffer;
}

}  // namespace hdrnn_addon

#endif
