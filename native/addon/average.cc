// average.cc - federated averaging and parameter writes for JavaScript:
//   averageNetworks(nets: NativeNetwork[], weights: Float64Array,
//                   { method: 'mean'|'median'|'trimmed-mean', trim, clipNorm, base? })
//     -> Promise<NativeNetwork>
//   setParameters(net: NativeNetwork, values: Float32Array) -> Promise<void>
//     values: every layer's weights ([out][in]) then its biases, layer by layer.
// Both run on libuv's pool; each input network is snapshotted under its lock
// there, so a network training at the same time is read between two
// mini-batches, never half-updated.
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "network.h"
#include "workers.h"

namespace hdrnn_addon {

namespace {

std::shared_ptr<NetState> ExpectNetwork(Napi::Env env, const Napi::Value &v, const char *what) {
  // The type tag, not instanceof: an object made from the prototype alone
  // passes instanceof but wraps no network.
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&NetworkWrap::kTag))
    ThrowType(env, std::string(what) + " must be a NativeNetwork");
  NetworkWrap *wrap = Napi::ObjectWrap<NetworkWrap>::Unwrap(v.As<Napi::Object>());
  if (wrap == nullptr) ThrowType(env, std::string(what) + " must be a NativeNetwork");
  return wrap->Live(env); // a disposed network is a coded error, not a null pointer
}

// A private copy of a network's parameters, taken between mini-batches.
hdrnn_network *Snapshot(NetState &state, hdrnn_status *status) {
  hdrnn_network *copy = nullptr;
  ReadGuard guard(state);
  if (hdrnn_network_clone(state.net, &copy, status) != HDRNN_OK) return nullptr;
  return copy;
}

struct NetList {
  std::vector<hdrnn_network *> nets;
  ~NetList() {
    for (hdrnn_network *n : nets) hdrnn_network_free(n);
  }
};

class AverageWorker : public PromiseWorker {
 public:
  AverageWorker(Napi::Env env, std::vector<std::shared_ptr<NetState>> inputs,
                std::vector<double> weights, hdrnn_average_options options,
                std::shared_ptr<NetState> base)
      : PromiseWorker(env, "hdrnn:average"), inputs_(std::move(inputs)),
        weights_(std::move(weights)), options_(options), base_(std::move(base)) {}
  ~AverageWorker() override {
    hdrnn_network_free(out_);
    hdrnn_network_free(base_copy_);
  }

 private:
  void Work() override {
    NetList copies;
    copies.nets.reserve(inputs_.size());
    for (auto &s : inputs_) {
      hdrnn_network *c = Snapshot(*s, &status_);
      if (c == nullptr) return;
      copies.nets.push_back(c);
    }
    if (base_) {
      base_copy_ = Snapshot(*base_, &status_);
      if (base_copy_ == nullptr) return;
      options_.base = base_copy_;
    }
    if (hdrnn_network_clone(copies.nets[0], &out_, &status_) != HDRNN_OK) return;
    hdrnn_network_average(out_, copies.nets.data(), weights_.data(), copies.nets.size(),
                          &options_, &status_);
  }
  Napi::Value Result(Napi::Env env) override {
    hdrnn_network *net = out_;
    out_ = nullptr; // owned by the JS object from here on
    return NetworkWrap::Adopt(env, net);
  }
  std::vector<std::shared_ptr<NetState>> inputs_;
  std::vector<double> weights_;
  hdrnn_average_options options_;
  std::shared_ptr<NetState> base_;
  hdrnn_network *base_copy_ = nullptr;
  hdrnn_network *out_ = nullptr;
};

class SetParametersWorker : public PromiseWorker {
 public:
  SetParametersWorker(Napi::Env env, std::shared_ptr<NetState> state, std::vector<float> values)
      : PromiseWorker(env, "hdrnn:setParameters"), state_(std::move(state)),
        values_(std::move(values)) {}

 private:
  void Work() override {
    for (size_t i = 0; i < values_.size(); i++)
      if (!std::isfinite(values_[i])) {
        status_.code = HDRNN_ERR_ARGUMENT;
        std::snprintf(status_.message, sizeof status_.message,
                      "parameter %zu is not a finite number", i);
        return;
      }
    ReadGuard guard(*state_);
    hdrnn_network *net = state_->net;
    const size_t layers = hdrnn_network_layer_count(net) - 1;
    const uint32_t *sizes = hdrnn_network_sizes(net);
    size_t at = 0;
    for (size_t l = 0; l < layers; l++) {
      const size_t w = (size_t)sizes[l] * sizes[l + 1], b = sizes[l + 1];
      std::memcpy(hdrnn_network_weights(net, l), values_.data() + at, w * sizeof(float));
      at += w;
      std::memcpy(hdrnn_network_biases(net, l), values_.data() + at, b * sizeof(float));
      at += b;
    }
  }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
  std::shared_ptr<NetState> state_;
  std::vector<float> values_;
};

Napi::Value AverageNetworks(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowType(env, "networks must be an array");
  Napi::Array list = info[0].As<Napi::Array>();
  const uint32_t count = list.Length();
  if (count == 0) ThrowRange(env, "networks must not be empty");
  if (count > 1u << 20) ThrowRange(env, "too many networks");
  TypedBytes w = ExpectTypedArray(env, info[1], "weights");
  if (w.type != napi_float64_array || w.length != count)
    ThrowType(env, "weights must be a Float64Array with one weight per network");
  std::vector<double> weights(count);
  std::memcpy(weights.data(), w.data, count * sizeof(double));
  std::vector<std::shared_ptr<NetState>> inputs;
  inputs.reserve(count);
  for (uint32_t i = 0; i < count; i++) inputs.push_back(ExpectNetwork(env, list.Get(i), "networks[i]"));
  // Shapes and activations are compared here, on the calling thread, so a
  // mismatch fails fast (the core checks again, with the standardisation).
  const hdrnn_network *first = inputs[0]->net;
  for (uint32_t i = 1; i < count; i++) {
    const hdrnn_network *n = inputs[i]->net;
    if (hdrnn_network_layer_count(n) != hdrnn_network_layer_count(first) ||
        std::memcmp(hdrnn_network_sizes(n), hdrnn_network_sizes(first),
                    hdrnn_network_layer_count(n) * sizeof(uint32_t)) != 0)
      throw MakeError(env, "ERR_HDRNN_SHAPE_MISMATCH",
                      "network " + std::to_string(i) + " has a different shape from network 0");
    for (size_t l = 0; l + 1 < hdrnn_network_layer_count(n); l++)
      if (hdrnn_network_activation(n, l) != hdrnn_network_activation(first, l))
        throw MakeError(env, "ERR_HDRNN_SHAPE_MISMATCH",
                        "network " + std::to_string(i) + " has different activations from network 0");
  }
  hdrnn_average_options options;
  hdrnn_average_options_default(&options);
  std::shared_ptr<NetState> base;
  if (info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    Napi::Value m = Option(o, "method");
    const std::string method = m.IsString() ? m.As<Napi::String>().Utf8Value() : "mean";
    if (method == "mean") options.method = HDRNN_AVERAGE_MEAN;
    else if (method == "median") options.method = HDRNN_AVERAGE_MEDIAN;
    else if (method == "trimmed-mean") options.method = HDRNN_AVERAGE_TRIMMED_MEAN;
    else ThrowType(env, "method must be 'mean', 'median' or 'trimmed-mean'");
    Napi::Value t = Option(o, "trim");
    if (t.IsNumber()) options.trim = t.As<Napi::Number>().DoubleValue();
    Napi::Value c = Option(o, "clipNorm");
    if (c.IsNumber()) options.clip_norm = c.As<Napi::Number>().DoubleValue();
    Napi::Value b = Option(o, "base");
    if (!b.IsUndefined() && !b.IsNull()) base = ExpectNetwork(env, b, "base");
  }
  return Queue<AverageWorker>(env, std::move(inputs), std::move(weights), options, std::move(base));
}

Napi::Value SetParameters(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::shared_ptr<NetState> state = ExpectNetwork(env, info[0], "network");
  TypedBytes t = ExpectTypedArray(env, info[1], "values");
  if (t.type != napi_float32_array) ThrowType(env, "values must be a Float32Array");
  if (t.length != hdrnn_network_parameter_count(state->net))
    throw MakeError(env, "ERR_HDRNN_SHAPE_MISMATCH",
                    "values has " + std::to_string(t.length) + " parameters but the network has " +
                        std::to_string(hdrnn_network_parameter_count(state->net)));
  if (state->training.load())
    throw MakeError(env, "ERR_HDRNN_BUSY", "the network is training: its parameters cannot be set");
  std::vector<float> values(t.length);
  if (t.length > 0) std::memcpy(values.data(), t.data, t.length * sizeof(float));
  return Queue<SetParametersWorker>(env, std::move(state), std::move(values));
}

}  // namespace

void InitAverage(Napi::Env env, Napi::Object exports) {
  exports.Set("averageNetworks", Napi::Function::New(env, AverageNetworks, "averageNetworks"));
  exports.Set("setParameters", Napi::Function::New(env, SetParameters, "setParameters"));
}

}  // namespace hdrnn_addon
