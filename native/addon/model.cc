// model.cc - see model.h.
#include "model.h"

#include <cmath>
#include <cstring>
#include <string>

#include "addon.h"
#include "dataset.h"
#include "errors.h"
#include "workers.h"

namespace hdrnn_addon {

namespace {

std::string ExpectString(Napi::Env env, const Napi::Value &v, const std::string &what) {
  if (!v.IsString()) ThrowType(env, what + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// A number in [min, max) or [min, max] (inclusive_max).
float ExpectReal(Napi::Env env, const Napi::Value &v, const char *what, double min, double max,
                 bool inclusive_max) {
  if (!v.IsNumber()) ThrowType(env, std::string(what) + " must be a number");
  const double x = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(x) || x < min || (inclusive_max ? x > max : x >= max))
    ThrowRange(env, std::string(what) + " is out of range");
  return (float)x;
}

}  // namespace

const char *FormatName(hdrnn_format format) {
  return format == HDRNN_FORMAT_SEED ? "seed" : format == HDRNN_FORMAT_V3 ? "v3" : "v2";
}

hdrnn_init ApplyModel(Napi::Env env, hdrnn_network *net, const Napi::Value &model) {
  hdrnn_status status;
  hdrnn_init init = HDRNN_INIT_NORMAL;
  if (!model.IsUndefined() && !model.IsNull()) {
    Napi::Object o = ExpectObject(env, model, "model");
    const size_t layers = hdrnn_network_layer_count(net) - 1;
    Napi::Value v = Option(o, "activations");
    if (!v.IsUndefined()) {
      if (!v.IsArray()) ThrowType(env, "activations must be an array of names");
      Napi::Array a = v.As<Napi::Array>();
      if (a.Length() != layers)
        ThrowRange(env, "activations needs one name per layer after the input (" +
                            std::to_string(layers) + ")");
      for (uint32_t l = 0; l < a.Length(); l++) {
        const std::string name = ExpectString(env, a.Get(l), "activations entry");
        hdrnn_activation act;
        if (hdrnn_activation_parse(name.c_str(), &act, &status) != HDRNN_OK ||
            hdrnn_network_set_activation(net, l, act, &status) != HDRNN_OK) {
          throw MakeError(env, status);
        }
      }
    }
    v = Option(o, "loss");
    if (!v.IsUndefined()) {
      const std::string name = ExpectString(env, v, "loss");
      hdrnn_loss loss;
      if (name == "quadratic") loss = HDRNN_LOSS_QUADRATIC;
      else if (name == "cross-entropy") loss = HDRNN_LOSS_CROSS_ENTROPY;
      else ThrowType(env, "loss must be 'quadratic' or 'cross-entropy'");
      if (hdrnn_network_set_loss(net, loss, &status) != HDRNN_OK) throw MakeError(env, status);
    }
    v = Option(o, "init");
    if (!v.IsUndefined()) {
      const std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
      if (name == "normal") init = HDRNN_INIT_NORMAL;
      else if (name == "xavier") init = HDRNN_INIT_XAVIER;
      else if (name == "he") init = HDRNN_INIT_HE;
      else ThrowType(env, "init must be 'normal', 'xavier' or 'he'");
    }
  }
  if (hdrnn_network_check_model(net, &status) != HDRNN_OK) throw MakeError(env, status);
  return init;
}

void ExpectOptimizer(Napi::Env env, const Napi::Object &o, uint32_t epochs,
                     hdrnn_train_options *options) {
  Napi::Value v = Option(o, "optimizer");
  if (!v.IsUndefined()) {
    Napi::Object spec = ExpectObject(env, v, "optimizer");
    const std::string type = ExpectString(env, Option(spec, "type"), "optimizer.type");
    if (type == "sgd") options->optimizer = HDRNN_OPTIMIZER_SGD;
    else if (type == "momentum") options->optimizer = HDRNN_OPTIMIZER_MOMENTUM;
    else if (type == "adam") options->optimizer = HDRNN_OPTIMIZER_ADAM;
    else ThrowType(env, "optimizer.type must be 'sgd', 'momentum' or 'adam'");
    Napi::Value x;
    if (!(x = Option(spec, "momentum")).IsUndefined())
      options->momentum = ExpectReal(env, x, "optimizer.momentum", 0, 1, false);
    if (!(x = Option(spec, "beta1")).IsUndefined())
      options->beta1 = ExpectReal(env, x, "optimizer.beta1", 0, 1, false);
    if (!(x = Option(spec, "beta2")).IsUndefined())
      options->beta2 = ExpectReal(env, x, "optimizer.beta2", 0, 1, false);
    if (!(x = Option(spec, "epsilon")).IsUndefined())
      options->epsilon = ExpectReal(env, x, "optimizer.epsilon", 0, 1, true);
  }
  if (!(v = Option(o, "weightDecay")).IsUndefined())
    options->weight_decay = ExpectReal(env, v, "weightDecay", 0, 1e6, true);
  v = Option(o, "schedule");
  if (!v.IsUndefined()) {
    Napi::Object spec = ExpectObject(env, v, "schedule");
    const std::string type = ExpectString(env, Option(spec, "type"), "schedule.type");
    if (type == "step") {
      options->schedule = HDRNN_SCHEDULE_STEP;
      options->schedule_every = (uint32_t)ExpectInteger(env, Option(spec, "every"), "schedule.every", 1, 1e6);
      options->schedule_factor = ExpectReal(env, Option(spec, "factor"), "schedule.factor", 1e-30, 1e6, true);
    } else if (type == "cosine") {
      options->schedule = HDRNN_SCHEDULE_COSINE;
      // The whole run's length: given, or this run's epochs (a resumed run
      // adds the epochs its state has done; see StartTraining).
      const Napi::Value total = Option(spec, "epochs");
      options->schedule_epochs =
          total.IsUndefined() ? 0 : (uint32_t)ExpectInteger(env, total, "schedule.epochs", 1, 1e6);
      if (options->schedule_epochs == 0) options->schedule_epochs = epochs;
      const Napi::Value m = Option(spec, "minLearningRate");
      options->schedule_min = m.IsUndefined() ? 0.0f : ExpectReal(env, m, "schedule.minLearningRate", 0, 1e6, true);
    } else {
      ThrowType(env, "schedule.type must be 'step' or 'cosine'");
    }
  }
  hdrnn_status status;
  hdrnn_train_options checked = *options;
  if (hdrnn_train_options_check(&checked, &status) != HDRNN_OK) throw MakeError(env, status);
}

Napi::Value ActivationNames(Napi::Env env, const hdrnn_network *net) {
  const size_t layers = hdrnn_network_layer_count(net) - 1;
  Napi::Array a = Napi::Array::New(env, layers);
  for (size_t l = 0; l < layers; l++)
    a.Set((uint32_t)l, Napi::String::New(env, hdrnn_activation_name(hdrnn_network_activation(net, l))));
  return a;
}

}  // namespace hdrnn_addon

// ------------------------------------------------ Dataset.standardize()

namespace hdrnn_addon {

namespace {

// Fits mean and std of a dataset's inputs on a pool thread (a pass over
// every value: too long for the JavaScript thread on big data).
class StandardizeWorker : public PromiseWorker {
 public:
  StandardizeWorker(Napi::Env env, DatasetRef data)
      : PromiseWorker(env, "hdrnn:standardize"), data_(std::move(data)) {}

 private:
  void Work() override {
    mean_.resize(data_.data.input_size);
    std_.resize(data_.data.input_size);
    hdrnn_dataset_standardize(&data_.data, mean_.data(), std_.data(), &status_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    Napi::Float32Array m = Napi::Float32Array::New(env, mean_.size());
    Napi::Float32Array s = Napi::Float32Array::New(env, std_.size());
    std::memcpy(m.Data(), mean_.data(), mean_.size() * sizeof(float));
    std::memcpy(s.Data(), std_.data(), std_.size() * sizeof(float));
    o.Set("mean", m);
    o.Set("std", s);
    return o;
  }
  DatasetRef data_;
  std::vector<float> mean_, std_;
};

Napi::Value Standardize(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  DatasetRef data = ExpectDataset(env, info[0], "data", false);
  auto *worker = new StandardizeWorker(env, std::move(data));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

class CheckpointWorker : public PromiseWorker {
 public:
  CheckpointWorker(Napi::Env env, std::shared_ptr<NetState> state, std::vector<uint8_t> trainer)
      : PromiseWorker(env, "hdrnn:checkpoint"), state_(std::move(state)), trainer_(std::move(trainer)) {}

 private:
  void Work() override {
    ReadGuard guard(*state_);
    size_t size = 0;
    if (hdrnn_network_encoded_size_v3(state_->net, trainer_.size(), &size, &status_) != HDRNN_OK) return;
    bytes_.resize(size);
    hdrnn_network_encode_v3(state_->net, trainer_.data(), trainer_.size(), bytes_.data(), size, &status_);
  }
  Napi::Value Result(Napi::Env env) override {
    return Napi::Buffer<uint8_t>::Copy(env, bytes_.data(), bytes_.size());
  }
  std::shared_ptr<NetState> state_;
  std::vector<uint8_t> trainer_, bytes_;
};

}  // namespace

void TrainerStateOf(const uint8_t *bytes, size_t length, std::vector<uint8_t> *state) {
  hdrnn_network *net = nullptr;
  const uint8_t *p = nullptr;
  size_t n = 0;
  if (hdrnn_network_decode_v3(bytes, length, nullptr, &net, &p, &n, nullptr) == HDRNN_OK && p != nullptr)
    state->assign(p, p + n);
  hdrnn_network_free(net);
}

Napi::Value EncodeCheckpoint(const Napi::CallbackInfo &info, std::shared_ptr<NetState> net) {
  Napi::Env env = info.Env();
  const TypedBytes t = ExpectTypedArray(env, info[0], "trainerState");
  if (t.type != napi_uint8_array) ThrowType(env, "trainerState must be a Uint8Array");
  if (t.length == 0 || t.length > 0xffffffffu) ThrowRange(env, "trainerState has a bad length");
  std::vector<uint8_t> copy(t.data, t.data + t.length); // copied now: the caller may reuse it
  auto *worker = new CheckpointWorker(env, std::move(net), std::move(copy));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value SetClasses(const Napi::CallbackInfo &info, NetState &net) {
  Napi::Env env = info.Env();
  std::vector<std::string> names;
  if (!info[0].IsNull() && !info[0].IsUndefined()) {
    if (!info[0].IsArray()) ThrowType(env, "classes must be an array of strings");
    Napi::Array a = info[0].As<Napi::Array>();
    if (a.Length() > (1u << 20)) ThrowRange(env, "too many class names");
    for (uint32_t i = 0; i < a.Length(); i++) names.push_back(ExpectString(env, a.Get(i), "class name"));
  }
  std::vector<const char *> pointers;
  for (const std::string &n : names) {
    if (n.find('\0') != std::string::npos) ThrowType(env, "class names must not contain NUL");
    pointers.push_back(n.c_str());
  }
  if (net.training.load()) throw MakeError(env, "ERR_HDRNN_BUSY", "cannot rename classes while training");
  hdrnn_status status;
  ReadGuard guard(net);
  const bool clear = info[0].IsNull() || info[0].IsUndefined();
  if (hdrnn_network_set_classes(net.net, clear ? nullptr : pointers.data(), pointers.size(), &status) != HDRNN_OK)
    throw MakeError(env, status);
  return env.Undefined();
}

Napi::Value Classes(Napi::Env env, NetState &net) {
  ReadGuard guard(net);
  if (hdrnn_network_class_name(net.net, 0) == nullptr) return env.Null();
  const uint32_t *sizes = hdrnn_network_sizes(net.net);
  const size_t outputs = sizes[hdrnn_network_layer_count(net.net) - 1];
  Napi::Array a = Napi::Array::New(env, outputs);
  for (size_t i = 0; i < outputs; i++)
    a.Set((uint32_t)i, Napi::String::New(env, hdrnn_network_class_name(net.net, i)));
  return a;
}

void InitModel(Napi::Env env, Napi::Object exports) {
  exports.Set("standardize", Napi::Function::New(env, Standardize, "standardize"));
}

}  // namespace hdrnn_addon
