# DiscoCuda.cmake — decides whether disco_kernels is built with CUDA.
#
#   DISCO_ENABLE_CUDA  (ON)  try CUDA when nvcc is found
#   DISCO_REQUIRE_CUDA (OFF) a missing nvcc is an error (the Maven `gpu` profile sets it)
#
# Sets DISCO_WITH_CUDA (ON/OFF) and, when ON, enables the CUDA language with the architectures the project
# supports: sm_75 (Turing) .. sm_90 (Hopper), plus PTX for sm_90 so newer cards JIT it.
include_guard(GLOBAL)
include(CheckLanguage)

option(DISCO_ENABLE_CUDA "Build the CUDA kernels when nvcc is found" ON)
option(DISCO_REQUIRE_CUDA "Fail when nvcc is not found" OFF)
# The GPU architectures to compile for, as compute capabilities without the dot ("60;70;75;80;86;89;90"): SASS
# for each, and PTX for the last (newer GPUs JIT it). Empty: sm_75..sm_90. The Maven gpu profiles pass their
# line's list (pom.xml disco.cuda.archs); an architecture this nvcc cannot compile is an error, not dropped.
set(DISCO_CUDA_ARCHS "" CACHE STRING "CUDA architectures (e.g. 60;70;75;80;86;89;90); empty: 75;80;86;89;90")
# Architectures compiled only where this nvcc can (the gpu-cuda12 line's sm_60 and sm_70: CUDA 13 dropped them):
# an nvcc that cannot is a warning naming what is left out, and the library then lacks them (disco doctor and the
# start-up check of --device cuda read the architectures from the library itself and name the fix on such a GPU).
set(DISCO_CUDA_ARCHS_OPTIONAL "" CACHE STRING "CUDA architectures compiled when this nvcc supports them (e.g. 60;70)")

set(DISCO_WITH_CUDA OFF)
if(DISCO_ENABLE_CUDA OR DISCO_REQUIRE_CUDA)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_disco_archs "${DISCO_CUDA_ARCHS}")
    if(_disco_archs STREQUAL "")
      set(_disco_archs 75 80 86 89 90)
    endif()
    # what this nvcc can target (nvcc --list-gpu-arch: compute_XX lines)
    execute_process(COMMAND "${CMAKE_CUDA_COMPILER}" --list-gpu-arch
                    OUTPUT_VARIABLE _disco_nvcc_archs RESULT_VARIABLE _disco_rc ERROR_QUIET)
    string(REGEX REPLACE "[\r\n]+" " " _disco_nvcc_archs "${_disco_nvcc_archs}")
    string(STRIP "${_disco_nvcc_archs}" _disco_nvcc_archs)
    set(_disco_skipped "")
    set(_disco_optional_ok "")
    foreach(a IN LISTS DISCO_CUDA_ARCHS_OPTIONAL)
      if(_disco_rc EQUAL 0 AND NOT _disco_nvcc_archs MATCHES "compute_${a}([^0-9]|$)")
        list(APPEND _disco_skipped "sm_${a}")
      elseif(NOT a IN_LIST _disco_archs)
        list(APPEND _disco_optional_ok "${a}")
      endif()
    endforeach()
    if(_disco_skipped)
      string(REPLACE ";" ", " _disco_skipped_text "${_disco_skipped}")
      message(WARNING "disco_kernels: ${CMAKE_CUDA_COMPILER} cannot compile ${_disco_skipped_text}: the kernels are "
        "built without them, so this build will not run on those GPUs (P100 is sm_60, V100 sm_70); build the "
        "gpu-cuda12 line with a CUDA 12 nvcc (CUDACXX=/usr/local/cuda-12.9/bin/nvcc) for them")
    endif()
    set(_disco_archs ${_disco_optional_ok} ${_disco_archs})
    list(SORT _disco_archs COMPARE NATURAL)
    set(_disco_bad "")
    set(_disco_list "")
    list(LENGTH _disco_archs _disco_n)
    set(_disco_i 0)
    foreach(a IN LISTS _disco_archs)
      math(EXPR _disco_i "${_disco_i} + 1")
      if(_disco_rc EQUAL 0 AND NOT _disco_nvcc_archs MATCHES "compute_${a}([^0-9]|$)")
        list(APPEND _disco_bad "sm_${a}")
      endif()
      if(_disco_i EQUAL _disco_n)
        list(APPEND _disco_list "${a}")  # SASS and PTX
      else()
        list(APPEND _disco_list "${a}-real")
      endif()
    endforeach()
    if(_disco_bad)
      string(REPLACE ";" ", " _disco_bad "${_disco_bad}")
      message(FATAL_ERROR "disco_kernels: ${CMAKE_CUDA_COMPILER} cannot compile ${_disco_bad} "
        "(it lists: ${_disco_nvcc_archs}); the gpu-cuda12 line (sm_60..sm_90) needs a CUDA 12 nvcc "
        "(CUDACXX=/usr/local/cuda-12.9/bin/nvcc), or pass -Ddisco.cuda.archs with the architectures this nvcc knows")
    endif()
    set(CMAKE_CUDA_ARCHITECTURES ${_disco_list} CACHE STRING "CUDA architectures" FORCE)
    enable_language(CUDA)
    set(DISCO_WITH_CUDA ON)
  elseif(DISCO_REQUIRE_CUDA)
    message(FATAL_ERROR "DISCO_REQUIRE_CUDA=ON but no CUDA compiler (nvcc) was found; set CMAKE_CUDA_COMPILER or put nvcc on PATH")
  endif()
endif()
if(DISCO_WITH_CUDA)
  find_package(CUDAToolkit REQUIRED)
  message(STATUS "disco_kernels: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
else()
  message(STATUS "disco_kernels: CPU only (no CUDA)")
endif()
