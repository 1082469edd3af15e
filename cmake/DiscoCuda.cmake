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

set(DISCO_WITH_CUDA OFF)
if(DISCO_ENABLE_CUDA OR DISCO_REQUIRE_CUDA)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 75-real 80-real 86-real 89-real 90)
    endif()
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
