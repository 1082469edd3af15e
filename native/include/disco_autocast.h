/* disco_autocast.h — LibTorch's autocast state (at::autocast) for the JVM, on every build line.
 *
 * The 2.7.1-1.5.12 presets (the gpu-cuda12 / cpu-cuda12 lines) bind none of at::autocast's functions, while
 * libtorch_cpu.so of every line exports them (the same mangled names in 2.7.1 and 2.10.0). The jars ship no C++
 * headers, so this header declares the two enums they take (c10::DeviceType and c10::ScalarType, int8_t
 * underneath, as in c10) and resolves the functions with dlsym in the libtorch_cpu.so that JavaCPP has already
 * loaded (RTLD_NOLOAD: it is never loaded from here). Compiled by JavaCPP into libjnidisco_autocast (class
 * disco.torch.AutocastNative); needs only libdl. */
#ifndef DISCO_AUTOCAST_H
#define DISCO_AUTOCAST_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

namespace c10 {
enum class DeviceType : int8_t;
enum class ScalarType : int8_t;
}  // namespace c10

namespace disco_autocast {
typedef bool (*IsEnabled)(c10::DeviceType);
typedef void (*SetEnabled)(c10::DeviceType, bool);
typedef c10::ScalarType (*GetDtype)(c10::DeviceType);
typedef void (*SetDtype)(c10::DeviceType, c10::ScalarType);
typedef int (*Nesting)();
typedef void (*ClearCache)();

struct Fns {
    IsEnabled is_enabled = nullptr;
    SetEnabled set_enabled = nullptr;
    GetDtype get_dtype = nullptr;
    SetDtype set_dtype = nullptr;
    Nesting increment = nullptr;
    Nesting decrement = nullptr;
    ClearCache clear_cache = nullptr;
    char error[512] = "not initialised (disco_autocast_init)";
};

inline Fns& fns() {
    static Fns f;
    return f;
}
}  // namespace disco_autocast

/* Resolves the functions in the already loaded library at `libtorch_cpu` (a path or soname). 0 when all seven
 * are there, else -1 with disco_autocast_error() naming what is missing. */
inline int disco_autocast_init(const char* libtorch_cpu) {
    disco_autocast::Fns& f = disco_autocast::fns();
    void* h = dlopen(libtorch_cpu, RTLD_LAZY | RTLD_NOLOAD);
    if (!h) {
        const char* e = dlerror();
        snprintf(f.error, sizeof f.error, "%s is not loaded: %s", libtorch_cpu, e ? e : "dlopen failed");
        return -1;
    }
    struct Sym {
        const char* name;
        void** slot;
    } syms[] = {
        {"_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE", (void**)&f.is_enabled},
        {"_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb", (void**)&f.set_enabled},
        {"_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE", (void**)&f.get_dtype},
        {"_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE", (void**)&f.set_dtype},
        {"_ZN2at8autocast17increment_nestingEv", (void**)&f.increment},
        {"_ZN2at8autocast17decrement_nestingEv", (void**)&f.decrement},
        {"_ZN2at8autocast11clear_cacheEv", (void**)&f.clear_cache},
    };
    for (const Sym& s : syms) {
        *s.slot = dlsym(h, s.name);
        if (!*s.slot) {
            snprintf(f.error, sizeof f.error, "%s does not export %s", libtorch_cpu, s.name);
            return -1;
        }
    }
    f.error[0] = '\0';
    return 0;
}

inline const char* disco_autocast_error() { return disco_autocast::fns().error; }

/* The calls below require a successful disco_autocast_init (the Java side checks it once). */
inline bool disco_autocast_is_enabled(int8_t device) {
    return disco_autocast::fns().is_enabled(static_cast<c10::DeviceType>(device));
}
inline void disco_autocast_set_enabled(int8_t device, bool on) {
    disco_autocast::fns().set_enabled(static_cast<c10::DeviceType>(device), on);
}
inline int8_t disco_autocast_get_dtype(int8_t device) {
    return static_cast<int8_t>(disco_autocast::fns().get_dtype(static_cast<c10::DeviceType>(device)));
}
inline void disco_autocast_set_dtype(int8_t device, int8_t type) {
    disco_autocast::fns().set_dtype(static_cast<c10::DeviceType>(device), static_cast<c10::ScalarType>(type));
}
inline int disco_autocast_increment_nesting() { return disco_autocast::fns().increment(); }
inline int disco_autocast_decrement_nesting() { return disco_autocast::fns().decrement(); }
inline void disco_autocast_clear_cache() { disco_autocast::fns().clear_cache(); }

#endif
