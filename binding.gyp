# node-gyp build of the addon (what `npm install` runs when no prebuild fits).
# CMakeLists.txt builds the same thing through cmake-js; keep the two in step.
{
  "variables": {
    "hdrnn_c_flags": ["-std=c99", "-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-strict-aliasing", "-Wall", "-Wextra"]
  },
  "target_defaults": {
    "include_dirs": ["native/core/include", "native/core/src", "native/core/kernels"],
    "cflags_c": ["<@(hdrnn_c_flags)"],
    "cflags!": ["-O0", "-O1", "-O2"],
    "xcode_settings": {"OTHER_CFLAGS": ["<@(hdrnn_c_flags)"]}
  },
  "targets": [
    {
      # The instruction-set kernels get their ISA flags alone, so the rest of
      # the binary stays at the architecture's baseline and runs on any CPU of
      # it; kernels_select.c checks the CPU at run time.
      "target_name": "hdrnn_kernels_isa",
      "type": "static_library",
      "sources": ["native/core/kernels/kernels_avx2.c", "native/core/kernels/kernels_neon.c"],
      "conditions": [
        ["target_arch=='x64' or target_arch=='ia32'", {"cflags_c": ["-mavx2", "-mfma"]}],
        ["target_arch=='arm'", {"cflags_c": ["-mfpu=neon"]}]
      ]
      # kernels_neon64.c (aarch64) is in hdrnn_core: it needs no flags.
    },
    {
      # AVX-512 in a library of its own: gyp has no per-file flags, and the
      # AVX2 file must not be compiled for AVX-512 (it would then need it).
      "target_name": "hdrnn_kernels_avx512",
      "type": "static_library",
      "sources": ["native/core/kernels/kernels_avx512.c"],
      "conditions": [
        ["target_arch=='x64'", {"cflags_c": ["-mavx512f", "-mavx2", "-mfma"]}]
      ]
    },
    {
      "target_name": "hdrnn_core",
      "type": "static_library",
      "sources": [
        "native/core/src/status.c",
        "native/core/src/rng.c",
        "native/core/src/network.c",
        "native/core/src/crc32.c",
        "native/core/src/format.c",
        "native/core/src/idx.c",
        "native/core/src/pgm.c",
        "native/core/src/dataset.c",
        "native/core/src/pool.c",
        "native/core/src/priority.c",
        "native/core/src/reference.c",
        "native/core/src/train.c",
        "native/core/src/train_batched.c",
        "native/core/src/autothreads.c",
        "native/core/src/evaluate.c",
        "native/core/src/average.c",
        "native/core/src/activations.c",
        "native/core/src/losses.c",
        "native/core/src/model.c",
        "native/core/src/optimizers.c",
        "native/core/src/trainer_state.c",
        "native/core/kernels/kernels_portable.c",
        "native/core/kernels/kernels_neon64.c",
        "native/core/kernels/kernels_select.c"
      ]
    },
    {
      "target_name": "hdrnn",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/errors.cc",
        "native/addon/bytes.cc",
        "native/addon/network.cc",
        "native/addon/model.cc",
        "native/addon/train_job.cc",
        "native/addon/workers.cc",
        "native/addon/parsers.cc",
        "native/addon/dataset.cc",
        "native/addon/average.cc",
        "native/addon/file_read.cc",
        "native/addon/file_write.cc"
      ],
      "dependencies": [
        "hdrnn_core",
        "hdrnn_kernels_isa",
        "hdrnn_kernels_avx512",
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      # SWALLOW_UNTHROWABLE: an error that can no longer be thrown because the
      # environment is shutting down (a worker_thread terminated with work
      # pending) is dropped instead of ending in std::terminate.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra"],
      "libraries": ["-lpthread", "-lm"],
      "xcode_settings": {"GCC_SYMBOLS_PRIVATE_EXTERN": "YES"}
    }
  ]
}
