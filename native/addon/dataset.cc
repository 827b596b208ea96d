// dataset.cc - see dataset.h.
#include "dataset.h"

#include <string>

#include "addon.h"

namespace hdrnn_addon {

namespace {

// Checks that [offset, offset + count * size) lies inside store.
void CheckSpan(Napi::Env env, const Store &store, double offset, double count, size_t size,
               const std::string &what) {
  const double end = offset + count * (double)size; // exact: all terms < 2^53
  if (end > (double)store.size)
    ThrowRange(env, what + " needs " + std::to_string((unsigned long long)end) +
                        " bytes but its memory holds " + std::to_string(store.size));
}

}  // namespace

DatasetRef ExpectDataset(Napi::Env env, const Napi::Value &v, const char *what, bool need_labels) {
  const std::string name = what;
  Napi::Object o = ExpectObject(env, v, what);
  DatasetRef ref;
  const double count = ExpectInteger(env, Option(o, "count"), (name + ".count").c_str(), 0, 4294967295.0);
  const double input_size =
      ExpectInteger(env, Option(o, "inputSize"), (name + ".inputSize").c_str(), 1, 4294967295.0);
  if (count * input_size > 9007199254740991.0) ThrowRange(env, name + " is too large");

  ref.inputs = Bytes::StoreOf(env, Option(o, "inputs"), (name + ".inputs").c_str());
  const double in_offset = ExpectInteger(env, Option(o, "inputsOffset"),
                                         (name + ".inputsOffset").c_str(), 0, 4294967295.0);
  const Napi::Value in_type = Option(o, "inputsType");
  const std::string type = in_type.IsString() ? in_type.As<Napi::String>().Utf8Value() : "";
  if (type == "u8") {
    CheckSpan(env, *ref.inputs, in_offset, count * input_size, 1, name + ".inputs");
    ref.data.pixels = ref.inputs->data + (size_t)in_offset;
  } else if (type == "f32") {
    if ((size_t)in_offset % 4 != 0) ThrowRange(env, name + ".inputsOffset must be a multiple of 4");
    CheckSpan(env, *ref.inputs, in_offset, count * input_size, 4, name + ".inputs");
    ref.data.features = reinterpret_cast<const float *>(ref.inputs->data + (size_t)in_offset);
  } else {
    ThrowType(env, name + ".inputsType must be 'u8' or 'f32'");
  }
  ref.data.count = (size_t)count;
  ref.data.input_size = (size_t)input_size;

  const Napi::Value targets = Option(o, "targets");
  if (!targets.IsUndefined() && !targets.IsNull()) {
    // Regression: count * targetSize float32 targets instead of labels.
    const double target_size = ExpectInteger(env, Option(o, "targetSize"),
                                             (name + ".targetSize").c_str(), 1, 1048576.0);
    ref.targets = Bytes::StoreOf(env, targets, (name + ".targets").c_str());
    const double t_offset = ExpectInteger(env, Option(o, "targetsOffset"),
                                          (name + ".targetsOffset").c_str(), 0, 4294967295.0);
    if ((size_t)t_offset % 4 != 0) ThrowRange(env, name + ".targetsOffset must be a multiple of 4");
    if (count * target_size > 9007199254740991.0) ThrowRange(env, name + " is too large");
    CheckSpan(env, *ref.targets, t_offset, count * target_size, 4, name + ".targets");
    ref.data.targets = reinterpret_cast<const float *>(ref.targets->data + (size_t)t_offset);
    ref.data.target_size = (size_t)target_size;
    return ref;
  }
  const Napi::Value labels = Option(o, "labels");
  if (labels.IsUndefined() || labels.IsNull()) {
    if (need_labels) ThrowType(env, name + " needs labels");
    return ref;
  }
  ref.labels = Bytes::StoreOf(env, labels, (name + ".labels").c_str());
  const double lab_offset = ExpectInteger(env, Option(o, "labelsOffset"),
                                          (name + ".labelsOffset").c_str(), 0, 4294967295.0);
  const Napi::Value lab_type = Option(o, "labelsType");
  const std::string ltype = lab_type.IsString() ? lab_type.As<Napi::String>().Utf8Value() : "";
  if (ltype == "u8") {
    CheckSpan(env, *ref.labels, lab_offset, count, 1, name + ".labels");
    ref.data.labels8 = ref.labels->data + (size_t)lab_offset;
  } else if (ltype == "u32") {
    if ((size_t)lab_offset % 4 != 0) ThrowRange(env, name + ".labelsOffset must be a multiple of 4");
    CheckSpan(env, *ref.labels, lab_offset, count, 4, name + ".labels");
    ref.data.labels32 = reinterpret_cast<const uint32_t *>(ref.labels->data + (size_t)lab_offset);
  } else {
    ThrowType(env, name + ".labelsType must be 'u8' or 'u32'");
  }
  return ref;
}

}  // namespace hdrnn_addon
