# toolchains/sysroot.cmake - builds against the glibc of HDRNN_SYSROOT (a
# Debian bullseye root from scripts/sysroot-bullseye.sh: glibc 2.31) instead
# of the build machine's, so the binaries load on every glibc >= 2.31.
# Included by the toolchain files (x64.cmake, armv7hf.cmake, aarch64.cmake)
# when HDRNN_SYSROOT is set; needs HDRNN_TRIPLET (e.g. arm-linux-gnueabihf).
#
# --sysroot alone is not enough with Debian's GCC 12, measured with -v:
#  - the cross compilers search their own /usr/<triplet>/include (bookworm's
#    glibc 2.36 headers) BEFORE the sysroot's: the C search list is replaced
#    (-nostdinc, then the compiler's own C++ and GCC dirs, then the sysroot's);
#  - every compiler links Scrt1.o/crti.o and libc.so from its own lib dirs
#    before the sysroot's (a 2.36 Scrt1.o calls __libc_start_main@GLIBC_2.34):
#    -B and -L put the sysroot's first.
# The C++ headers and libstdc++.so stay the compiler's own (GCC 12), linked
# dynamically: the symbols the addon uses are old (GLIBCXX <= 3.4.22, checked
# by scripts/check-glibc.sh); a static GCC 12 libstdc++ would bring an
# unversioned __libc_single_threaded that glibc 2.31 lacks.

if(NOT HDRNN_TRIPLET)
  message(FATAL_ERROR "toolchains/sysroot.cmake needs HDRNN_TRIPLET")
endif()
if(NOT EXISTS "${HDRNN_SYSROOT}/usr/include/stdio.h")
  message(FATAL_ERROR "HDRNN_SYSROOT=${HDRNN_SYSROOT} has no usr/include/stdio.h (make it with scripts/sysroot-bullseye.sh)")
endif()
set(CMAKE_SYSROOT "${HDRNN_SYSROOT}")

if(NOT HDRNN_SYSROOT_FLAGS_ADDED)
  set(HDRNN_SYSROOT_FLAGS_ADDED ON)
  set(_hdrnn_libs "${HDRNN_SYSROOT}/usr/lib/${HDRNN_TRIPLET}" "${HDRNN_SYSROOT}/lib/${HDRNN_TRIPLET}")
  list(GET _hdrnn_libs 0 _hdrnn_usrlib)
  list(JOIN _hdrnn_libs ":" _hdrnn_rpath_link)
  add_link_options("-B${_hdrnn_usrlib}/" "-L${_hdrnn_usrlib}" "-L${HDRNN_SYSROOT}/lib/${HDRNN_TRIPLET}"
                   "-Wl,-rpath-link,${_hdrnn_rpath_link}")
  # The compiler's own header dirs outside the sysroot that hold C library
  # headers (/usr/<triplet>/include for Debian's cross compilers).
  get_filename_component(_hdrnn_foreign "/usr/${HDRNN_TRIPLET}/include" REALPATH)
  foreach(_lang C CXX)
    set(_x c)
    if(_lang STREQUAL CXX)
      set(_x c++)
    endif()
    execute_process(COMMAND "${CMAKE_${_lang}_COMPILER}" "--sysroot=${HDRNN_SYSROOT}" -x ${_x} -E -v /dev/null
      OUTPUT_QUIET ERROR_VARIABLE _out RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "${CMAKE_${_lang}_COMPILER} -E -v failed: ${_out}")
    endif()
    string(REGEX REPLACE ".*#include <\\.\\.\\.> search starts here:\n" "" _out "${_out}")
    string(REGEX REPLACE "\nEnd of search list\\..*" "" _out "${_out}")
    string(REPLACE "\n" ";" _dirs "${_out}")
    set(_keep)
    set(_dropped OFF)
    foreach(_d IN LISTS _dirs)
      string(STRIP "${_d}" _d)
      get_filename_component(_real "${_d}" REALPATH)
      if(_real STREQUAL _hdrnn_foreign)
        set(_dropped ON)
      else()
        list(APPEND _keep "${_real}")
      endif()
    endforeach()
    if(_dropped)
      add_compile_options("$<$<COMPILE_LANGUAGE:${_lang}>:-nostdinc>")
      foreach(_d IN LISTS _keep)
        add_compile_options("$<$<COMPILE_LANGUAGE:${_lang}>:SHELL:-isystem ${_d}>")
      endforeach()
    endif()
  endforeach()
endif()
