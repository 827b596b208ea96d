// parsers.h - IDX and PGM parsing for JavaScript.
#ifndef HDRNN_ADDON_PARSERS_H
#define HDRNN_ADDON_PARSERS_H

#include <napi.h>

namespace hdrnn_addon {

void InitParsers(Napi::Env env, Napi::Object exports);

}  // namespace hdrnn_addon

#endif
