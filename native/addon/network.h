// network.h - the Network class JavaScript sees (wrapped by lib/network.ts).
#ifndef HDRNN_ADDON_NETWORK_H
#define HDRNN_ADDON_NETWORK_H

#include <napi.h>

#include <memory>

#include "net_state.h"

namespace hdrnn_addon {

class NetworkWrap : public Napi::ObjectWrap<NetworkWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new NativeNetwork(shape: number[], seed: number | bigint, limits?)
  explicit NetworkWrap(const Napi::CallbackInfo &info);
  ~NetworkWrap() override;
  // A new JS object owning net (used by decoding).
  static Napi::Object Adopt(Napi::Env env, hdrnn_network *net);
  // The network's state, or ERR_HDRNN_DISPOSED after dispose().
  const std::shared_ptr<NetState> &Live(Napi::Env env) const;
  static const napi_type_tag kTag;
  static const char *const kName;

  Napi::Value Shape(const Napi::CallbackInfo &info);
  Napi::Value ParameterCount(const Napi::CallbackInfo &info);
  Napi::Value Training(const Napi::CallbackInfo &info);
  Napi::Value Activations(const Napi::CallbackInfo &info);
  Napi::Value Loss(const Napi::CallbackInfo &info);
  Napi::Value SetStandardization(const Napi::CallbackInfo &info);
  Napi::Value Standardization(const Napi::CallbackInfo &info);
  Napi::Value SetClasses(const Napi::CallbackInfo &info);
  Napi::Value Classes(const Napi::CallbackInfo &info);
  Napi::Value EncodeCheckpoint(const Napi::CallbackInfo &info);
  Napi::Value Disposed(const Napi::CallbackInfo &info);
  Napi::Value Encode(const Napi::CallbackInfo &info);
  Napi::Value Infer(const Napi::CallbackInfo &info);
  Napi::Value InferBatch(const Napi::CallbackInfo &info);
  Napi::Value Evaluate(const Napi::CallbackInfo &info);
  Napi::Value Parameters(const Napi::CallbackInfo &info);
  Napi::Value Train(const Napi::CallbackInfo &info);
  Napi::Value Dispose(const Napi::CallbackInfo &info);
  Napi::Value InitWeights(const Napi::CallbackInfo &info);

 private:
  static Napi::Value FromBuffer(const Napi::CallbackInfo &info);
  static Napi::Value Decode(const Napi::CallbackInfo &info);
  void ReportMemory(Napi::Env env);

  std::shared_ptr<NetState> state_;
  // Bytes of parameters told to V8, so a loop that drops networks lets the
  // garbage collector see the native memory it is holding up.
  int64_t reported_ = 0;
  // Made with deferInit (Network.create): the weights are not set until
  // initWeights() has run; until then every other method refuses.
  bool init_pending_ = false;
  bool init_running_ = false;
  hdrnn_init init_kind_ = HDRNN_INIT_NORMAL;
  uint64_t init_seed_ = 0;
  friend class InitWorker;
};

void InitNetwork(Napi::Env env, Napi::Object exports);

}  // namespace hdrnn_addon

#endif
