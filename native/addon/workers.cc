// workers.cc - see workers.h.
#include "workers.h"

#include <cstdio>
#include <cstring>
#include <new>

#include "errors.h"
#include "model.h"
#include "external.h"
#include "file_write.h"
#include "network.h"

namespace hdrnn_addon {

PromiseWorker::PromiseWorker(Napi::Env env, const char *name)
    : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {
  status_.code = HDRNN_OK;
  status_.message[0] = '\0';
}

void PromiseWorker::Execute() {
  try {
    Work();
  } catch (const std::bad_alloc &) {
    status_.code = HDRNN_ERR_NO_MEMORY;
    std::strcpy(status_.message, "out of memory");
  }
}

// Settling can fail when the environment is being torn down (a worker_thread
// terminated while this work ran): then nobody is waiting for the Promise,
// and the failure must not escape as a C++ exception (std::terminate would
// take the whole process down).
void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  try {
    Napi::HandleScope scope(env);
    if (status_.code != HDRNN_OK) {
      deferred_.Reject((error_code_ != nullptr ? MakeError(env, error_code_, status_.message)
                                               : MakeError(env, status_))
                           .Value());
      return;
    }
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error &e) {
      deferred_.Reject(e.Value());
    }
  } catch (...) {
  }
}

void PromiseWorker::OnError(const Napi::Error &e) {
  try {
    deferred_.Reject(e.Value());
  } catch (...) {
  }
}

namespace {

// Runs fn on a private copy of the weights when a training run is writing
// them (so a long read does not stall it), else under the lock.
template <typename Fn>
hdrnn_code WithNetwork(NetState &state, hdrnn_status *status, Fn fn) {
  hdrnn_network *copy = nullptr;
  {
    ReadGuard guard(state);
    if (!state.training.load()) return fn(state.net);
    hdrnn_code code = hdrnn_network_clone(state.net, &copy, status);
    if (code != HDRNN_OK) return code;
  }
  hdrnn_code code = fn(copy);
  hdrnn_network_free(copy);
  return code;
}

// Encodes the network; with a path, also writes the encoding to that new
// file (see WriteNewFile) in the same job, so a save hands no 64 MB buffer
// to JavaScript (whose external-memory accounting would then start a
// garbage collection on the JavaScript thread) and resolves to undefined.
class EncodeWorker : public PromiseWorker {
 public:
  EncodeWorker(Napi::Env env, std::shared_ptr<NetState> state, hdrnn_format format, std::string path)
      : PromiseWorker(env, "hdrnn:encode"), state_(std::move(state)), format_(format), path_(std::move(path)) {}

 private:
  void Work() override {
    {
      ReadGuard guard(*state_); // encoding is a copy; no need for a snapshot
      size_t size = 0;
      if (hdrnn_network_encoded_size(state_->net, format_, &size, &status_) != HDRNN_OK) return;
      bytes_.resize(size);
      if (hdrnn_network_encode(state_->net, format_, bytes_.data(), bytes_.size(), &status_) != HDRNN_OK) return;
    }
    if (path_.empty()) return;
    WriteNewFile(path_, bytes_.data(), bytes_.size(), 0644, &status_, &error_code_);
    std::vector<uint8_t>().swap(bytes_); // freed here, on the pool thread
  }
  Napi::Value Result(Napi::Env env) override {
    if (!path_.empty()) return env.Undefined();
    return ExternalBytes(env, std::move(bytes_));
  }
  std::shared_ptr<NetState> state_;
  hdrnn_format format_;
  std::string path_;
  std::vector<uint8_t> bytes_;
};

// A file's bytes in native memory (held alive for the work) and the limits
// to parse them with.
struct FileBytes {
  std::shared_ptr<Store> store;
  size_t offset, length;
  hdrnn_limits limits;
  const uint8_t *data() const { return store->data + offset; }
};

class DecodeWorker : public PromiseWorker {
 public:
  DecodeWorker(Napi::Env env, FileBytes file)
      : PromiseWorker(env, "hdrnn:decode"), file_(std::move(file)) {}
  ~DecodeWorker() override { hdrnn_network_free(net_); }

 private:
  void Work() override {
    hdrnn_network_decode(file_.data(), file_.length, &file_.limits, &net_, &format_, &status_);
    if (net_ != nullptr && format_ == HDRNN_FORMAT_V3) TrainerStateOf(file_.data(), file_.length, &state_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    hdrnn_network *net = net_;
    net_ = nullptr; // owned by the JS object from here on
    o.Set("network", NetworkWrap::Adopt(env, net));
    o.Set("format", Napi::String::New(env, FormatName(format_)));
    if (!state_.empty()) o.Set("trainerState", Napi::Buffer<uint8_t>::Copy(env, state_.data(), state_.size()));
    return o;
  }
  std::vector<uint8_t> state_; // a v3 checkpoint's trainer state
  FileBytes file_;
  hdrnn_network *net_ = nullptr;
  hdrnn_format format_ = HDRNN_FORMAT_V2;
};

size_t Outputs(const hdrnn_network *net) {
  return hdrnn_network_sizes(net)[hdrnn_network_layer_count(net) - 1];
}

// One example through the network (the caller holds the network's lock).
void InferOne(const hdrnn_network *net, const std::vector<float> &input, RunConfig config,
              std::vector<float> *scores, uint32_t *label, hdrnn_status *status) {
  hdrnn_dataset data{};
  data.features = input.data();
  data.count = 1;
  data.input_size = input.size();
  scores->resize(Outputs(net));
  config.options.threads = 1;
  hdrnn_infer(net, &data, &config.options, scores->data(), label, status);
}

Napi::Value InferResult(Napi::Env env, const std::vector<float> &scores, uint32_t label) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("label", Napi::Number::New(env, label));
  Napi::Float32Array array = Napi::Float32Array::New(env, scores.size());
  std::memcpy(array.Data(), scores.data(), scores.size() * sizeof(float));
  o.Set("scores", array);
  return o;
}

class InferWorker : public PromiseWorker {
 public:
  InferWorker(Napi::Env env, std::shared_ptr<NetState> state, std::vector<float> input,
              RunConfig config)
      : PromiseWorker(env, "hdrnn:infer"), state_(std::move(state)), input_(std::move(input)),
        config_(config) {}

 private:
  void Work() override {
    // One example is microseconds of work: do it under the lock.
    ReadGuard guard(*state_);
    InferOne(state_->net, input_, config_, &scores_, &label_, &status_);
  }
  Napi::Value Result(Napi::Env env) override { return InferResult(env, scores_, label_); }
  std::shared_ptr<NetState> state_;
  std::vector<float> input_;
  RunConfig config_;
  std::vector<float> scores_;
  uint32_t label_ = 0;
};

class InferBatchWorker : public PromiseWorker {
 public:
  InferBatchWorker(Napi::Env env, std::shared_ptr<NetState> state, DatasetRef data,
                   RunConfig config)
      : PromiseWorker(env, "hdrnn:inferBatch"), state_(std::move(state)), data_(std::move(data)),
        config_(config) {}

 private:
  void Work() override {
    WithNetwork(*state_, &status_, [&](const hdrnn_network *net) {
      size_t cells = 0;
      const size_t outputs = Outputs(net);
      if (data_.data.count > SIZE_MAX / outputs / sizeof(float))
        return hdrnn_fail_code(HDRNN_ERR_LIMIT, "too many inputs");
      cells = data_.data.count * outputs;
      // Checked before allocating: [1, 2^20] with 200 inputs wanted 800 MB.
      const uint64_t bytes = (uint64_t)cells * sizeof(float) + (uint64_t)data_.data.count * 4;
      hdrnn_code code = hdrnn_network_check_working(net, bytes, "inferBatch", &status_);
      if (code != HDRNN_OK) return code;
      scores_.resize(cells);
      labels_.resize(data_.data.count);
      outputs_ = outputs;
      return hdrnn_infer(net, &data_.data, &config_.options, scores_.data(), labels_.data(),
                         &status_);
    });
  }
  hdrnn_code hdrnn_fail_code(hdrnn_code code, const char *message) {
    status_.code = code;
    std::snprintf(status_.message, sizeof status_.message, "%s", message);
    return code;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    // Handed over, not copied: the scores are held once.
    o.Set("labels", ExternalUint32(env, std::move(labels_)));
    o.Set("scores", ExternalFloats(env, std::move(scores_)));
    o.Set("outputs", Napi::Number::New(env, (double)outputs_));
    return o;
  }
  std::shared_ptr<NetState> state_;
  DatasetRef data_;
  RunConfig config_;
  std::vector<float> scores_;
  std::vector<uint32_t> labels_;
  size_t outputs_ = 0;
};

constexpr size_t kMaxConfusionOutputs = 1024;

class EvaluateWorker : public PromiseWorker {
 public:
  EvaluateWorker(Napi::Env env, std::shared_ptr<NetState> state, DatasetRef data,
                 RunConfig config, bool confusion)
      : PromiseWorker(env, "hdrnn:evaluate"), state_(std::move(state)), data_(std::move(data)),
        config_(config), want_confusion_(confusion) {}

 private:
  void Work() override {
    WithNetwork(*state_, &status_, [&](const hdrnn_network *net) {
      outputs_ = Outputs(net);
      result_ = hdrnn_evaluation{};
      // Up to 1024 outputs (8 MiB of counts); wider networks get none: the
      // JavaScript number[][] of 4096^2 counts alone was hundreds of MB.
      if (want_confusion_ && outputs_ <= kMaxConfusionOutputs) {
        confusion_.assign(outputs_ * outputs_, 0);
        result_.confusion = confusion_.data();
      }
      return hdrnn_evaluate(net, &data_.data, &config_.options, &result_, &status_);
    });
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("correct", Napi::Number::New(env, (double)result_.correct));
    o.Set("total", Napi::Number::New(env, (double)result_.total));
    o.Set("loss", Napi::Number::New(env, result_.loss));
    if (data_.data.targets != nullptr) {
      o.Set("rmse", Napi::Number::New(env, result_.rmse));
      o.Set("mae", Napi::Number::New(env, result_.mae));
    }
    o.Set("outputs", Napi::Number::New(env, (double)outputs_));
    if (!confusion_.empty()) {
      Napi::Float64Array c = Napi::Float64Array::New(env, confusion_.size());
      for (size_t i = 0; i < confusion_.size(); i++) c[i] = (double)confusion_[i];
      o.Set("confusion", c);
    }
    return o;
  }
  std::shared_ptr<NetState> state_;
  DatasetRef data_;
  RunConfig config_;
  bool want_confusion_;
  hdrnn_evaluation result_{};
  std::vector<uint64_t> confusion_;
  size_t outputs_ = 0;
};

class ParametersWorker : public PromiseWorker {
 public:
  ParametersWorker(Napi::Env env, std::shared_ptr<NetState> state)
      : PromiseWorker(env, "hdrnn:parameters"), state_(std::move(state)) {}

 private:
  void Work() override {
    ReadGuard guard(*state_);
    const hdrnn_network *net = state_->net;
    const size_t layers = hdrnn_network_layer_count(net) - 1;
    const uint32_t *sizes = hdrnn_network_sizes(net);
    for (size_t l = 0; l < layers; l++) {
      const float *w = hdrnn_network_weights_const(net, l);
      const float *b = hdrnn_network_biases_const(net, l);
      weights_.emplace_back(w, w + (size_t)sizes[l] * sizes[l + 1]);
      biases_.emplace_back(b, b + sizes[l + 1]);
    }
  }
  static Napi::Array ToArrays(Napi::Env env, const std::vector<std::vector<float>> &v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); i++) {
      Napi::Float32Array f = Napi::Float32Array::New(env, v[i].size());
      std::memcpy(f.Data(), v[i].data(), v[i].size() * sizeof(float));
      a.Set((uint32_t)i, f);
    }
    return a;
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("weights", ToArrays(env, weights_));
    o.Set("biases", ToArrays(env, biases_));
    return o;
  }
  std::shared_ptr<NetState> state_;
  std::vector<std::vector<float>> weights_, biases_;
};

class PgmWorker : public PromiseWorker {
 public:
  PgmWorker(Napi::Env env, FileBytes file) : PromiseWorker(env, "hdrnn:pgm"), file_(std::move(file)) {}

 private:
  void Work() override {
    // Header and raster are validated before the pixels are allocated.
    if (hdrnn_pgm_decode(file_.data(), file_.length, &file_.limits, &info_, nullptr, 0, &status_) !=
        HDRNN_OK)
      return;
    const uint64_t bytes = (uint64_t)info_.width * info_.height * sizeof(float);
    if (bytes > file_.limits.max_working_bytes) {
      status_.code = HDRNN_ERR_LIMIT;
      std::snprintf(status_.message, sizeof status_.message,
                    "a %ux%u image needs %llu bytes of pixels, more than the limit of %llu "
                    "(limits.maxWorkingBytes)",
                    (unsigned)info_.width, (unsigned)info_.height, (unsigned long long)bytes,
                    (unsigned long long)file_.limits.max_working_bytes);
      return;
    }
    pixels_.resize((size_t)info_.width * info_.height);
    hdrnn_pgm_decode(file_.data(), file_.length, &file_.limits, &info_, pixels_.data(),
                     pixels_.size(), &status_);
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("width", Napi::Number::New(env, info_.width));
    o.Set("height", Napi::Number::New(env, info_.height));
    o.Set("maxval", Napi::Number::New(env, info_.maxval));
    o.Set("binary", Napi::Boolean::New(env, info_.binary != 0));
    o.Set("pixels", ExternalFloats(env, std::move(pixels_)));
    return o;
  }
  FileBytes file_;
  hdrnn_pgm_info info_{};
  std::vector<float> pixels_;
};

}  // namespace

Napi::Promise StartEncode(Napi::Env env, std::shared_ptr<NetState> state, hdrnn_format format,
                          std::string path) {
  return Queue<EncodeWorker>(env, std::move(state), format, std::move(path));
}
Napi::Promise StartDecode(Napi::Env env, std::shared_ptr<Store> bytes, size_t offset,
                          size_t length, hdrnn_limits limits) {
  return Queue<DecodeWorker>(env, FileBytes{std::move(bytes), offset, length, limits});
}
// A single example of a small network is cheaper to compute than a trip to
// the thread pool and back (a few microseconds against tens): below this many
// flops (about 50 us on a Cortex-A9, 2 us on x64), and when no training holds
// the network, it runs right here. The Promise still settles asynchronously.
constexpr size_t kInlineInferFlops = 100000;

Napi::Promise StartInfer(Napi::Env env, std::shared_ptr<NetState> state, std::vector<float> input,
                         RunConfig config) {
  size_t flops = 0;
  const uint32_t *sizes = hdrnn_network_sizes(state->net);
  for (size_t l = 1; l < hdrnn_network_layer_count(state->net); l++)
    flops += 2 * (size_t)sizes[l - 1] * sizes[l];
  if (flops <= kInlineInferFlops && state->mutex.try_lock()) {
    std::vector<float> scores;
    uint32_t label = 0;
    hdrnn_status status{};
    InferOne(state->net, input, config, &scores, &label, &status);
    state->mutex.unlock();
    Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
    if (status.code != HDRNN_OK)
      deferred.Reject(MakeError(env, status).Value());
    else
      deferred.Resolve(InferResult(env, scores, label));
    return deferred.Promise();
  }
  return Queue<InferWorker>(env, std::move(state), std::move(input), config);
}
Napi::Promise StartInferBatch(Napi::Env env, std::shared_ptr<NetState> state, DatasetRef data,
                              RunConfig config) {
  return Queue<InferBatchWorker>(env, std::move(state), std::move(data), config);
}
Napi::Promise StartEvaluate(Napi::Env env, std::shared_ptr<NetState> state, DatasetRef data,
                            RunConfig config, bool confusion) {
  return Queue<EvaluateWorker>(env, std::move(state), std::move(data), config, confusion);
}
Napi::Promise StartParameters(Napi::Env env, std::shared_ptr<NetState> state) {
  return Queue<ParametersWorker>(env, std::move(state));
}
Napi::Promise StartDecodePgm(Napi::Env env, std::shared_ptr<Store> bytes, size_t offset,
                             size_t length, hdrnn_limits limits) {
  hdrnn_limits_resolve(&limits, &limits);
  return Queue<PgmWorker>(env, FileBytes{std::move(bytes), offset, length, limits});
}

}  // namespace hdrnn_addon
