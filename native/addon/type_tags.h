// type_tags.h - prototype methods that check `this` before touching it.
//
// node-addon-api's InstanceMethod unwraps `this` with napi_unwrap, which
// hands back whatever native pointer the object wraps: a NativeBytes called
// as a NativeNetwork (`NativeNetwork.prototype.shape` read through another
// object) would be used as one, reading memory chosen by the caller. So our
// classes tag each instance (napi_type_tag_object) in the constructor and
// every method and accessor goes through Checked<>, which refuses any `this`
// without the class's tag (a TypeError) before unwrapping it.
#ifndef HDRNN_ADDON_TYPE_TAGS_H
#define HDRNN_ADDON_TYPE_TAGS_H

#include <napi.h>

#include <new>
#include <string>
#include <vector>

namespace hdrnn_addon {

[[noreturn]] void ThrowType(Napi::Env env, const std::string &message);

// The wrapped T behind info.This(), or a TypeError. T provides
// `static const napi_type_tag kTag` and `static const char *const kName`.
template <typename T>
T *CheckedThis(const Napi::CallbackInfo &info) {
  Napi::Value self = info.This();
  if (!self.IsObject() || !self.As<Napi::Object>().CheckTypeTag(&T::kTag))
    ThrowType(info.Env(), std::string("this is not a ") + T::kName);
  T *object = Napi::ObjectWrap<T>::Unwrap(self.As<Napi::Object>());
  if (object == nullptr) ThrowType(info.Env(), std::string("this is not a ") + T::kName);
  return object;
}

template <typename T, Napi::Value (T::*Method)(const Napi::CallbackInfo &)>
napi_value Checked(napi_env env, napi_callback_info cbinfo) {
  Napi::CallbackInfo info(env, cbinfo);
  try {
    return (CheckedThis<T>(info)->*Method)(info);
  } catch (const Napi::Error &e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::bad_alloc &) {
    Napi::Error::New(env, "out of memory").ThrowAsJavaScriptException();
  }
  return nullptr;
}

// Property descriptors for a prototype: methods and read-only accessors.
inline napi_property_descriptor CheckedMethod(const char *name, napi_callback cb) {
  return {name, nullptr, cb, nullptr, nullptr, nullptr, napi_default_method, nullptr};
}
inline napi_property_descriptor CheckedGetter(const char *name, napi_callback cb) {
  return {name, nullptr, nullptr, cb, nullptr, nullptr, napi_configurable, nullptr};
}

// Defines the descriptors on ctor.prototype.
inline void DefineOnPrototype(Napi::Env env, Napi::Function ctor,
                              const std::vector<napi_property_descriptor> &props) {
  Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
  NAPI_THROW_IF_FAILED_VOID(env, napi_define_properties(env, proto, props.size(), props.data()));
}

}  // namespace hdrnn_addon

#endif
