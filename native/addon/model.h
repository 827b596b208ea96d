// model.h - the model and optimizer options of issue 10 crossing from
// JavaScript: activations, loss, initialisation, standardisation, and the
// optimizer / weight decay / schedule / resume state of a training run.
#ifndef HDRNN_ADDON_MODEL_H
#define HDRNN_ADDON_MODEL_H

#include <napi.h>

#include <vector>

#include "hdrnn.h"
#include "net_state.h"

#include <memory>

namespace hdrnn_addon {

// model: undefined or { activations?: string[], loss?: string, init?: string }.
// Sets the activations and loss on net and checks them; returns the weight
// initialisation `init` asks for (drawing the weights is the caller's: at
// once, or on a pool thread for Network.create). Throws on bad values (net
// stays owned by the caller).
hdrnn_init ApplyModel(Napi::Env env, hdrnn_network *net, const Napi::Value &model);

// The optimizer, weightDecay and schedule options of o into options (epochs:
// the run's length, for the cosine schedule).
void ExpectOptimizer(Napi::Env env, const Napi::Object &o, uint32_t epochs,
                     hdrnn_train_options *options);

// Layer activations as strings, and the loss name.
Napi::Value ActivationNames(Napi::Env env, const hdrnn_network *net);

// The trainer state a v3 file carries, copied into *state (empty when none).
void TrainerStateOf(const uint8_t *bytes, size_t length, std::vector<uint8_t> *state);

// exports.standardize(data) -> Promise<{ mean, std }>.
void InitModel(Napi::Env env, Napi::Object exports);

// net.encodeCheckpoint(state: Uint8Array) -> Promise<Buffer>: v3 with the trainer state.
Napi::Value EncodeCheckpoint(const Napi::CallbackInfo &info, std::shared_ptr<NetState> net);
// net.setClasses(names | null), net.classes() -> string[] | null
Napi::Value SetClasses(const Napi::CallbackInfo &info, NetState &net);
Napi::Value Classes(Napi::Env env, NetState &net);

// "seed", "v2" or "v3".
const char *FormatName(hdrnn_format format);

}  // namespace hdrnn_addon

#endif
