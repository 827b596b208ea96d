// addon.cc - module entry: per-instance data, argument helpers, exports.
#include "addon.h"

#include <ctime>

#include <cmath>
#include <cstring>
#include <thread>

#include "bytes.h"
#include "errors.h"
#include "network.h"
#include "parsers.h"
#include "train_job.h"

namespace hdrnn_addon {
void InitFileRead(Napi::Env env, Napi::Object exports); // file_read.cc
void InitFileWrite(Napi::Env env, Napi::Object exports); // file_write.cc
}

namespace hdrnn_addon {

void InitAverage(Napi::Env env, Napi::Object exports); // average.cc

AddonData &Data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

void ThrowType(Napi::Env env, const std::string &message) {
  Napi::Error e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw e;
}

void ThrowRange(Napi::Env env, const std::string &message) {
  Napi::Error e = Napi::RangeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw e;
}

Napi::Object ExpectObject(Napi::Env env, const Napi::Value &v, const char *what) {
  if (!v.IsObject()) ThrowType(env, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

double ExpectInteger(Napi::Env env, const Napi::Value &v, const char *what, double min,
                     double max) {
  if (!v.IsNumber()) ThrowType(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < min || d > max)
    ThrowRange(env, std::string(what) + " must be an integer from " + std::to_string((long long)min) +
                        " to " + std::to_string((long long)max));
  return d;
}

std::string ExpectPath(Napi::Env env, const Napi::Value &v) {
  if (!v.IsString()) ThrowType(env, "path must be a string");
  std::string path = v.As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos)
    ThrowType(env, "path must be a non-empty string without NUL characters");
  return path;
}

uint64_t ExpectSeed(Napi::Env env, const Napi::Value &v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    const uint64_t s = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) ThrowRange(env, "seed must fit in 64 bits and not be negative");
    return s;
  }
  return (uint64_t)ExpectInteger(env, v, "seed", 0, 9007199254740991.0);
}

Napi::Value Option(const Napi::Object &options, const char *name) {
  return options.Has(name) ? options.Get(name) : options.Env().Undefined();
}

const hdrnn_kernels *ExpectKernels(Napi::Env env, const Napi::Value &v) {
  const AddonData &data = Data(env);
  if (v.IsUndefined() || v.IsNull()) return data.best;
  if (!v.IsString()) ThrowType(env, "kernels must be a string");
  const std::string name = v.As<Napi::String>();
  const hdrnn_kernels *k = name == "best"       ? data.best
                           : name == "portable" ? data.portable
                           : name == "avx2"     ? data.avx2
                           : name == "avx512"   ? data.avx512
                           : name == "neon"     ? data.neon
                                                : nullptr;
  if (k == nullptr) {
    Napi::Error e = Napi::Error::New(env, "kernels '" + name + "' are not available on this CPU "
                                          "(try 'portable' or 'best')");
    e.Set("code", Napi::String::New(env, "ERR_HDRNN_UNSUPPORTED"));
    throw e;
  }
  return k;
}

hdrnn_limits ExpectLimits(Napi::Env env, const Napi::Value &v) {
  hdrnn_limits limits;
  std::memset(&limits, 0, sizeof limits);
  if (v.IsUndefined() || v.IsNull()) return limits;
  Napi::Object o = ExpectObject(env, v, "limits");
  const double big = 9007199254740991.0;
  Napi::Value x;
  if (!(x = Option(o, "maxParameters")).IsUndefined())
    limits.max_parameters = (uint64_t)ExpectInteger(env, x, "limits.maxParameters", 1, big);
  if (!(x = Option(o, "maxLayers")).IsUndefined())
    limits.max_layers = (uint32_t)ExpectInteger(env, x, "limits.maxLayers", 2, 4294967295.0);
  if (!(x = Option(o, "maxLayerSize")).IsUndefined())
    limits.max_layer_size = (uint32_t)ExpectInteger(env, x, "limits.maxLayerSize", 1, 4294967295.0);
  if (!(x = Option(o, "maxItems")).IsUndefined())
    limits.max_items = (uint64_t)ExpectInteger(env, x, "limits.maxItems", 1, big);
  if (!(x = Option(o, "maxPixels")).IsUndefined())
    limits.max_pixels = (uint64_t)ExpectInteger(env, x, "limits.maxPixels", 1, big);
  if (!(x = Option(o, "maxWorkingBytes")).IsUndefined())
    limits.max_working_bytes = (uint64_t)ExpectInteger(env, x, "limits.maxWorkingBytes", 1, big);
  return limits;
}

TypedBytes ExpectTypedArray(Napi::Env env, const Napi::Value &v, const char *what) {
  if (!v.IsTypedArray()) ThrowType(env, std::string(what) + " must be a typed array");
  TypedBytes t{};
  void *data = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &t.type, &t.length, &data, &buffer, &offset) != napi_ok)
    ThrowType(env, std::string(what) + " could not be read");
  t.data = static_cast<const uint8_t *>(data);
  if (t.data == nullptr) t.length = 0; // detached
  return t;
}

namespace {

Napi::Value CpuCount(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), hdrnn_cpu_count());
}

// The calling thread's own CPU time in nanoseconds, exact to the call
// (CLOCK_THREAD_CPUTIME_ID; /proc's schedstat only moves at scheduler ticks
// while a thread runs). For tests and benchmarks of how long work holds the
// JavaScript thread; 0 where the clock does not exist.
Napi::Value ThreadCpuTime(const Napi::CallbackInfo &info) {
  struct timespec t;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0) return Napi::Number::New(info.Env(), 0);
  return Napi::Number::New(info.Env(), (double)t.tv_sec * 1e9 + (double)t.tv_nsec);
}

Napi::Object KernelInfo(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("best", Napi::String::New(env, hdrnn_kernels_name(hdrnn_kernels_best())));
  Napi::Array available = Napi::Array::New(env);
  uint32_t n = 0;
  for (const char *name : {"portable", "avx2", "avx512", "neon"})
    if (hdrnn_kernels_find(name) != nullptr) available.Set(n++, Napi::String::New(env, name));
  o.Set("available", available);
  return o;
}

void Cleanup(void *arg) {
  // The environment is going away: stop every training thread and wait for
  // it, so none outlives the objects it reports to.
  auto *data = static_cast<AddonData *>(arg);
  data->tearing_down = true;
  std::set<TrainJob *> jobs = data->jobs;
  for (TrainJob *job : jobs) job->StopAndJoin();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto *data = new AddonData();
  data->best = hdrnn_kernels_best();
  data->portable = hdrnn_kernels_find("portable");
  data->avx2 = hdrnn_kernels_find("avx2");
  data->avx512 = hdrnn_kernels_find("avx512");
  data->neon = hdrnn_kernels_find("neon");
  env.SetInstanceData(data);
  napi_add_env_cleanup_hook(env, Cleanup, data);
  exports.Set("cpuCount", Napi::Function::New(env, CpuCount, "cpuCount"));
  exports.Set("threadCpuTime", Napi::Function::New(env, ThreadCpuTime, "threadCpuTime"));
  exports.Set("kernels", KernelInfo(env));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  InitBytes(env, exports);
  InitParsers(env, exports);
  InitFileRead(env, exports);
  InitFileWrite(env, exports);
  InitNetwork(env, exports);
  InitAverage(env, exports);
  return exports;
}

}  // namespace hdrnn_addon

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return hdrnn_addon::Init(env, exports);
}

NODE_API_MODULE(hdrnn, InitModule)
