// network.cc - see network.h. Every argument is checked here again even
// though lib/ validates first: this is the boundary into C.
#include "network.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "addon.h"
#include "bytes.h"
#include "dataset.h"
#include "errors.h"
#include "model.h"
#include "train_job.h"
#include "release.h"
#include "type_tags.h"
#include "workers.h"

namespace hdrnn_addon {

namespace {

// Marks the External that carries a decoded network into the constructor,
// so no other External can be passed off as one.
const napi_type_tag kAdoptTag = {0x6864726e6e4e6574ULL, 0x41646f7074000001ULL};

RunConfig ExpectRunConfig(Napi::Env env, const Napi::Value &v) {
  RunConfig config;
  if (v.IsUndefined() || v.IsNull()) {
    config.options.kernels = hdrnn_kernels_best();
    return config;
  }
  Napi::Object o = ExpectObject(env, v, "options");
  const Napi::Value threads = Option(o, "threads");
  if (!threads.IsUndefined())
    config.options.threads = (unsigned)ExpectInteger(env, threads, "threads", 1, 1024);
  config.options.kernels = ExpectKernels(env, Option(o, "kernels"));
  return config;
}

hdrnn_format ExpectFormat(Napi::Env env, const Napi::Value &v) {
  const std::string f = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (f == "seed") return HDRNN_FORMAT_SEED;
  if (f == "v2") return HDRNN_FORMAT_V2;
  if (f == "v3") return HDRNN_FORMAT_V3;
  ThrowType(env, "format must be 'seed', 'v2' or 'v3'");
}

}  // namespace

const napi_type_tag NetworkWrap::kTag = {0x6864726e6e4e6574ULL, 0x776f726b00000002ULL};
const char *const NetworkWrap::kName = "NativeNetwork";

Napi::Function NetworkWrap::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeNetwork",
                                    {StaticMethod<&NetworkWrap::FromBuffer>("fromBuffer"),
                                     StaticMethod<&NetworkWrap::Decode>("decode")});
  using W = NetworkWrap;
  DefineOnPrototype(env, ctor, {
      CheckedGetter("shape", Checked<W, &W::Shape>),
      CheckedGetter("parameterCount", Checked<W, &W::ParameterCount>),
      CheckedGetter("training", Checked<W, &W::Training>),
      CheckedGetter("disposed", Checked<W, &W::Disposed>),
      CheckedMethod("encode", Checked<W, &W::Encode>),
      CheckedMethod("infer", Checked<W, &W::Infer>),
      CheckedMethod("inferBatch", Checked<W, &W::InferBatch>),
      CheckedMethod("evaluate", Checked<W, &W::Evaluate>),
      CheckedMethod("parameters", Checked<W, &W::Parameters>),
      CheckedMethod("train", Checked<W, &W::Train>),
      CheckedMethod("dispose", Checked<W, &W::Dispose>),
      CheckedGetter("activations", Checked<W, &W::Activations>),
      CheckedGetter("loss", Checked<W, &W::Loss>),
      CheckedMethod("setStandardization", Checked<W, &W::SetStandardization>),
      CheckedMethod("standardization", Checked<W, &W::Standardization>),
      CheckedMethod("setClasses", Checked<W, &W::SetClasses>),
      CheckedMethod("classes", Checked<W, &W::Classes>),
      CheckedMethod("encodeCheckpoint", Checked<W, &W::EncodeCheckpoint>),
      CheckedMethod("initWeights", Checked<W, &W::InitWeights>),
  });
  return ctor;
}

static Napi::Error DisposedError(Napi::Env env) {
  return MakeError(env, "ERR_HDRNN_DISPOSED", "this network was disposed (net.dispose()): its memory is freed");
}

const std::shared_ptr<NetState> &NetworkWrap::Live(Napi::Env env) const {
  if (!state_) throw DisposedError(env);
  if (init_pending_)
    throw MakeError(env, "ERR_HDRNN_BUSY", "this network's weights are not set yet (initWeights())");
  return state_;
}

Napi::Value NetworkWrap::Disposed(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), !state_);
}

// Frees the weights now instead of whenever the garbage collector gets to
// this object. Work already queued holds its own reference and finishes.
Napi::Value NetworkWrap::Dispose(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!state_) return env.Undefined();
  if (state_->training.load())
    throw MakeError(env, "ERR_HDRNN_BUSY",
                    "this network is training: abort the run and wait for it to end before "
                    "disposing of the network");
  state_.reset();
  if (reported_ != 0) Napi::MemoryManagement::AdjustExternalMemory(env, -reported_);
  reported_ = 0;
  return env.Undefined();
}

NetworkWrap::NetworkWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NetworkWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() == 1 && info[0].IsExternal()) { // from Adopt()
    Napi::External<hdrnn_network> ext = info[0].As<Napi::External<hdrnn_network>>();
    if (!ext.CheckTypeTag(&kAdoptTag)) ThrowType(env, "shape must be an array of layer sizes");
    // Only Adopt() makes tagged Externals, and it hands each to exactly one
    // constructor call; JavaScript never sees them.
    state_ = std::make_shared<NetState>(ext.Data());
    ReportMemory(env);
    info.This().As<Napi::Object>().TypeTag(&kTag);
    return;
  }
  if (!info[0].IsArray()) ThrowType(env, "shape must be an array of layer sizes");
  Napi::Array shape = info[0].As<Napi::Array>();
  if (shape.Length() > 65536) ThrowRange(env, "shape has too many layers");
  std::vector<uint32_t> sizes(shape.Length());
  for (uint32_t i = 0; i < shape.Length(); i++)
    sizes[i] = (uint32_t)ExpectInteger(env, shape.Get(i), "shape entry", 1, 4294967295.0);
  const uint64_t seed = ExpectSeed(env, info[1]);
  const hdrnn_limits limits = ExpectLimits(env, info[2]);
  hdrnn_network *net = nullptr;
  hdrnn_status status;
  const bool defer = info.Length() > 4 && info[4].IsBoolean() && info[4].As<Napi::Boolean>().Value();
  if ((defer ? hdrnn_network_create_unset : hdrnn_network_create)(&net, sizes.data(), sizes.size(),
                                                                  &limits, &status) != HDRNN_OK)
    throw MakeError(env, status);
  // Owned from here on, so a bad model option frees it (member destructor).
  state_ = std::make_shared<NetState>(net);
  const hdrnn_init init = ApplyModel(env, net, info[3]);
  if (defer) {
    init_pending_ = true;
    init_kind_ = init;
    init_seed_ = seed;
  } else if (hdrnn_network_init(net, init, seed, &status) != HDRNN_OK) {
    throw MakeError(env, status);
  }
  ReportMemory(env);
  info.This().As<Napi::Object>().TypeTag(&kTag);
}

// Sets the weights of a network made with deferInit on a pool thread
// (hdrnn_network_init over 16.7 M weights takes ~0.35 s), then lets the
// other methods in. The same weights as `new NativeNetwork` with the same
// arguments.
class InitWorker : public PromiseWorker {
 public:
  InitWorker(Napi::Env env, NetworkWrap *wrap, Napi::Object self)
      : PromiseWorker(env, "hdrnn:initWeights"), wrap_(wrap), state_(wrap->state_),
        init_(wrap->init_kind_), seed_(wrap->init_seed_) {
    self_ = Napi::Persistent(self); // keeps the wrapper (and wrap_) alive until OnOK
  }

 private:
  void Work() override {
    ReadGuard guard(*state_);
    hdrnn_network_init(state_->net, init_, seed_, &status_);
  }
  Napi::Value Result(Napi::Env env) override {
    wrap_->init_running_ = false;
    wrap_->init_pending_ = false;
    self_.Reset();
    return env.Undefined();
  }
  NetworkWrap *wrap_;
  std::shared_ptr<NetState> state_;
  hdrnn_init init_;
  uint64_t seed_;
  Napi::ObjectReference self_;
};

Napi::Value NetworkWrap::InitWeights(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!state_) throw DisposedError(env);
  if (!init_pending_) throw MakeError(env, "ERR_HDRNN_BUSY", "the weights are already set");
  if (init_running_) throw MakeError(env, "ERR_HDRNN_BUSY", "the weights are being set");
  init_running_ = true;
  return Queue<InitWorker>(env, this, info.This().As<Napi::Object>());
}

void NetworkWrap::ReportMemory(Napi::Env env) {
  reported_ = (int64_t)(hdrnn_network_parameter_count(state_->net) * sizeof(float));
  Napi::MemoryManagement::AdjustExternalMemory(env, reported_);
}

NetworkWrap::~NetworkWrap() {
  if (reported_ != 0) napi_adjust_external_memory(Env(), -reported_, nullptr);
  if (state_) ReleaseLater(std::move(state_), (size_t)reported_);
}

Napi::Object NetworkWrap::Adopt(Napi::Env env, hdrnn_network *net) {
  Napi::External<hdrnn_network> ext = Napi::External<hdrnn_network>::New(env, net);
  ext.TypeTag(&kAdoptTag);
  return Data(env).network_constructor.New({ext});
}

Napi::Value NetworkWrap::FromBuffer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() && !info[0].IsArrayBuffer())
    ThrowType(env, "buffer must be a Buffer, Uint8Array or ArrayBuffer");
  const uint8_t *bytes;
  size_t length;
  if (info[0].IsArrayBuffer()) {
    Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
    bytes = static_cast<const uint8_t *>(ab.Data());
    length = bytes != nullptr ? ab.ByteLength() : 0;
  } else {
    const TypedBytes t = ExpectTypedArray(env, info[0], "buffer");
    if (t.type != napi_uint8_array && t.type != napi_uint8_clamped_array && t.type != napi_int8_array)
      ThrowType(env, "buffer must be a Buffer, Uint8Array or ArrayBuffer");
    bytes = t.data;
    length = t.length;
  }
  const hdrnn_limits limits = ExpectLimits(env, info[1]);
  hdrnn_network *net = nullptr;
  hdrnn_format format;
  hdrnn_status status;
  // Synchronous: the bytes are only valid during this call.
  if (hdrnn_network_decode(bytes, length, &limits, &net, &format, &status) != HDRNN_OK)
    throw MakeError(env, status);
  Napi::Object o = Napi::Object::New(env);
  o.Set("network", Adopt(env, net));
  o.Set("format", Napi::String::New(env, FormatName(format)));
  if (format == HDRNN_FORMAT_V3) {
    std::vector<uint8_t> trainer;
    TrainerStateOf(bytes, length, &trainer);
    if (!trainer.empty()) o.Set("trainerState", Napi::Buffer<uint8_t>::Copy(env, trainer.data(), trainer.size()));
  }
  return o;
}

Napi::Value NetworkWrap::Decode(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Store> store = Bytes::StoreOf(env, info[0], "bytes");
  const hdrnn_limits limits = ExpectLimits(env, info[1]);
  return StartDecode(env, store, 0, store->size, limits);
}

Napi::Value NetworkWrap::Shape(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const hdrnn_network *net = Live(env)->net;
  const size_t n = hdrnn_network_layer_count(net);
  const uint32_t *sizes = hdrnn_network_sizes(net); // never changes: no lock
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) a.Set((uint32_t)i, Napi::Number::New(env, sizes[i]));
  return a;
}

Napi::Value NetworkWrap::ParameterCount(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), (double)hdrnn_network_parameter_count(Live(info.Env())->net));
}

Napi::Value NetworkWrap::Training(const Napi::CallbackInfo &info) {
  return Napi::Boolean::New(info.Env(), state_ && state_->training.load());
}

Napi::Value NetworkWrap::Encode(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<NetState> &state = Live(env);
  const hdrnn_format format = ExpectFormat(env, info[0]);
  hdrnn_status status;
  // Fail early, on this thread, if the shape does not fit the format.
  if (hdrnn_format_check(state->net, format, &status) != HDRNN_OK) throw MakeError(env, status);
  std::string path;
  if (info.Length() > 1 && !info[1].IsUndefined()) path = ExpectPath(env, info[1]);
  return StartEncode(env, state, format, std::move(path));
}

Napi::Value NetworkWrap::Infer(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const size_t inputs = hdrnn_network_sizes(Live(env)->net)[0];
  if (!info[0].IsTypedArray()) ThrowType(env, "input must be a Float32Array or Uint8Array");
  const TypedBytes ta = ExpectTypedArray(env, info[0], "input");
  if (ta.length != inputs)
    throw MakeError(env, "ERR_HDRNN_SHAPE_MISMATCH",
                    "input has " + std::to_string(ta.length) +
                        " values but the network takes " + std::to_string(inputs));
  // Copied now: the caller may reuse or transfer its array right after.
  std::vector<float> input(inputs);
  const uint8_t *base = ta.data;
  switch (ta.type) {
    case napi_float32_array:
      std::memcpy(input.data(), base, inputs * sizeof(float));
      for (size_t i = 0; i < inputs; i++)
        if (!std::isfinite(input[i]))
          throw MakeError(env, "ERR_HDRNN_INVALID_ARGUMENT",
                          "input value " + std::to_string(i) + " is not a finite number");
      break;
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      for (size_t i = 0; i < inputs; i++) input[i] = (float)base[i] / 255.0f;
      break;
    default:
      ThrowType(env, "input must be a Float32Array or Uint8Array");
  }
  return StartInfer(env, Live(env), std::move(input), ExpectRunConfig(env, info[1]));
}

Napi::Value NetworkWrap::InferBatch(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  DatasetRef data = ExpectDataset(env, info[0], "inputs", false);
  RunConfig config = ExpectRunConfig(env, info[1]);
  return StartInferBatch(env, Live(env), std::move(data), config);
}

Napi::Value NetworkWrap::Evaluate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  DatasetRef data = ExpectDataset(env, info[0], "data", true);
  RunConfig config = ExpectRunConfig(env, info[1]);
  return StartEvaluate(env, Live(env), std::move(data), config, true);
}

Napi::Value NetworkWrap::Parameters(const Napi::CallbackInfo &info) {
  return StartParameters(info.Env(), Live(info.Env()));
}

Napi::Value NetworkWrap::Train(const Napi::CallbackInfo &info) {
  return StartTraining(info, Live(info.Env()));
}

Napi::Value NetworkWrap::Activations(const Napi::CallbackInfo &info) {
  return ActivationNames(info.Env(), Live(info.Env())->net); // set before any training: no lock
}

Napi::Value NetworkWrap::Loss(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), hdrnn_loss_name(hdrnn_network_loss(Live(info.Env())->net)));
}

// setStandardization(mean: Float32Array | null, std: Float32Array | null)
Napi::Value NetworkWrap::SetStandardization(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<NetState> state = Live(env);
  const size_t inputs = hdrnn_network_sizes(state->net)[0];
  std::vector<float> mean, stdev;
  const bool clear = info[0].IsNull() || info[0].IsUndefined();
  if (!clear) {
    for (int k = 0; k < 2; k++) {
      const char *what = k == 0 ? "mean" : "std";
      if (!info[k].IsTypedArray()) ThrowType(env, std::string(what) + " must be a Float32Array");
      const TypedBytes t = ExpectTypedArray(env, info[k], what);
      if (t.type != napi_float32_array) ThrowType(env, std::string(what) + " must be a Float32Array");
      if (t.length != inputs)
        throw MakeError(env, "ERR_HDRNN_SHAPE_MISMATCH",
                        std::string(what) + " has " + std::to_string(t.length) +
                            " values but the network takes " + std::to_string(inputs));
      std::vector<float> &dst = k == 0 ? mean : stdev;
      dst.resize(inputs);
      std::memcpy(dst.data(), t.data, inputs * sizeof(float));
    }
  }
  // Changing how inputs are read in the middle of a run would make no sense.
  if (state->training.load())
    throw MakeError(env, "ERR_HDRNN_BUSY", "cannot change the standardisation while training");
  hdrnn_status status;
  ReadGuard guard(*state);
  if (hdrnn_network_set_standardization(state->net, clear ? nullptr : mean.data(),
                                        clear ? nullptr : stdev.data(), &status) != HDRNN_OK)
    throw MakeError(env, status);
  return env.Undefined();
}

Napi::Value NetworkWrap::Standardization(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<NetState> state = Live(env);
  ReadGuard guard(*state);
  const float *mean = hdrnn_network_mean(state->net), *stdev = hdrnn_network_std(state->net);
  if (mean == nullptr) return env.Null();
  const size_t inputs = hdrnn_network_sizes(state->net)[0];
  Napi::Float32Array m = Napi::Float32Array::New(env, inputs), s = Napi::Float32Array::New(env, inputs);
  std::memcpy(m.Data(), mean, inputs * sizeof(float));
  std::memcpy(s.Data(), stdev, inputs * sizeof(float));
  Napi::Object o = Napi::Object::New(env);
  o.Set("mean", m);
  o.Set("std", s);
  return o;
}

Napi::Value NetworkWrap::SetClasses(const Napi::CallbackInfo &info) {
  return hdrnn_addon::SetClasses(info, *Live(info.Env()));
}

Napi::Value NetworkWrap::Classes(const Napi::CallbackInfo &info) {
  return hdrnn_addon::Classes(info.Env(), *Live(info.Env()));
}

Napi::Value NetworkWrap::EncodeCheckpoint(const Napi::CallbackInfo &info) {
  return hdrnn_addon::EncodeCheckpoint(info, Live(info.Env()));
}

void InitNetwork(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = NetworkWrap::Define(env);
  Data(env).network_constructor = Napi::Persistent(ctor);
  exports.Set("NativeNetwork", ctor);
  InitModel(env, exports);
}

}  // namespace hdrnn_addon
