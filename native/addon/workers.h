// workers.h - short native jobs on libuv's thread pool, each settling a
// Promise: encoding, decoding, inference, evaluation, PGM decoding. Each
// holds shared ownership of what it reads, so JavaScript dropping or
// reusing an object cannot pull memory from under it.
#ifndef HDRNN_ADDON_WORKERS_H
#define HDRNN_ADDON_WORKERS_H

#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dataset.h"
#include "hdrnn.h"
#include "net_state.h"

namespace hdrnn_addon {

// Starts an async worker W (a Napi::AsyncWorker with a Promise()) and returns
// its promise; the worker deletes itself when done.
template <typename W, typename... Args>
Napi::Promise Queue(Napi::Env env, Args &&...args) {
  auto *worker = new W(env, std::forward<Args>(args)...);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env, const char *name);
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() final;
  void OnOK() final;
  void OnError(const Napi::Error &e) final;
  virtual void Work() = 0;                         // on a pool thread
  virtual Napi::Value Result(Napi::Env env) = 0;   // on the JS thread
  hdrnn_status status_;
  // When set (with status_.code not OK), the rejection's code instead of
  // the one status_.code maps to (e.g. "ENOENT").
  const char *error_code_ = nullptr;

 private:
  Napi::Promise::Deferred deferred_;
};

struct RunConfig {
  hdrnn_run_options options{};
};

// With a non-empty path: writes the encoding to that new file, resolves undefined.
Napi::Promise StartEncode(Napi::Env env, std::shared_ptr<NetState> state, hdrnn_format format,
                          std::string path = std::string());
Napi::Promise StartDecode(Napi::Env env, std::shared_ptr<Store> bytes, size_t offset, size_t length,
                          hdrnn_limits limits);
Napi::Promise StartInfer(Napi::Env env, std::shared_ptr<NetState> state, std::vector<float> input,
                         RunConfig config);
Napi::Promise StartInferBatch(Napi::Env env, std::shared_ptr<NetState> state, DatasetRef data,
                              RunConfig config);
Napi::Promise StartEvaluate(Napi::Env env, std::shared_ptr<NetState> state, DatasetRef data,
                            RunConfig config, bool confusion);
Napi::Promise StartParameters(Napi::Env env, std::shared_ptr<NetState> state);
Napi::Promise StartDecodePgm(Napi::Env env, std::shared_ptr<Store> bytes, size_t offset,
                             size_t length, hdrnn_limits limits);

}  // namespace hdrnn_addon

#endif
