// addon.h - what the addon's files share: per-instance data (the addon is
// context-aware: every worker_thread that loads it gets its own, and there is
// no process-wide mutable state) and small argument helpers.
#ifndef HDRNN_ADDON_H
#define HDRNN_ADDON_H

#include <napi.h>

#include <mutex>
#include <set>
#include <string>

#include "hdrnn.h"

namespace hdrnn_addon {

class TrainJob;

struct AddonData {
  Napi::FunctionReference bytes_constructor;
  Napi::FunctionReference network_constructor;
  // Training jobs still running in this environment; stopped and joined
  // when the environment is torn down (process exit, worker_thread end).
  std::set<TrainJob *> jobs;
  bool tearing_down = false;
  // Kernel tables by name, looked up once: finding them asks the CPU
  // (cpuid), which costs a VM exit under a hypervisor, on every call.
  const hdrnn_kernels *best = nullptr, *portable = nullptr, *avx2 = nullptr, *avx512 = nullptr,
                      *neon = nullptr;
};

AddonData &Data(Napi::Env env);

// Argument helpers: each throws a TypeError/RangeError with a stable code.
[[noreturn]] void ThrowType(Napi::Env env, const std::string &message);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string &message);
Napi::Object ExpectObject(Napi::Env env, const Napi::Value &v, const char *what);
// An integer in [min, max]; anything else (NaN, fractions, strings) is refused.
double ExpectInteger(Napi::Env env, const Napi::Value &v, const char *what, double min, double max);
uint64_t ExpectSeed(Napi::Env env, const Napi::Value &v);
// A file path: a non-empty string without NUL characters (TypeError otherwise).
std::string ExpectPath(Napi::Env env, const Napi::Value &v);
// Optional property of an options object; undefined when absent.
Napi::Value Option(const Napi::Object &options, const char *name);
// Kernels named by an option ("best", "portable", "avx2", "avx512", "neon") or the best.
const hdrnn_kernels *ExpectKernels(Napi::Env env, const Napi::Value &v);
hdrnn_limits ExpectLimits(Napi::Env env, const Napi::Value &v);
// The bytes of a typed array, also over a SharedArrayBuffer (whose
// ArrayBuffer object N-API does not hand out). Length in elements.
struct TypedBytes {
  napi_typedarray_type type;
  const uint8_t *data;
  size_t length;
};
TypedBytes ExpectTypedArray(Napi::Env env, const Napi::Value &v, const char *what);

}  // namespace hdrnn_addon

#endif
