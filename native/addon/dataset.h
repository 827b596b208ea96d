// dataset.h - a dataset described by JavaScript, checked, with the native
// memory it points into held alive for as long as the native work runs.
#ifndef HDRNN_ADDON_DATASET_H
#define HDRNN_ADDON_DATASET_H

#include <napi.h>

#include <memory>

#include "bytes.h"
#include "hdrnn.h"

namespace hdrnn_addon {

struct DatasetRef {
  std::shared_ptr<Store> inputs;
  std::shared_ptr<Store> labels;
  hdrnn_dataset data{};
  std::shared_ptr<Store> targets; // regression targets instead of labels
};

// v: { inputs: NativeBytes, inputsOffset, inputsType: 'u8'|'f32',
//      labels?: NativeBytes, labelsOffset, labelsType: 'u8'|'u32',
//      count, inputSize }. Every offset and length is checked against the
// stores, with overflow checks, so a lying object cannot make C read past
// the end. Throws TypeError/RangeError.
DatasetRef ExpectDataset(Napi::Env env, const Napi::Value &v, const char *what, bool need_labels);

}  // namespace hdrnn_addon

#endif
