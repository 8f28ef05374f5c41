// Finds, loads and checks the CUDA module (libnocturne-cuda.so); see
// cuda_module.hpp for the contract and docs/library.md for the search.

#include <dlfcn.h>
#include <link.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "core/cuda_module.hpp"
#include "core/cuda_module_stamp.hpp"  // generated: NOCTURNE_CUDA_MODULE_STAMP

namespace nocturne::inline v0::cuda_module {

namespace {

std::string last_dl_error() {
  const char* text = ::dlerror();
  return text ? text : "unknown dynamic-loader error";
}

// The file that holds `address`: a shared library, or the program itself
// (whose link map has no name; the program is /proc/self/exe then).
std::string object_path(const void* address, bool* is_program = nullptr) {
  Dl_info info{};
  link_map* map = nullptr;
  if (!::dladdr1(address, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !map) return {};
  const bool program = !(map->l_name && *map->l_name);
  if (is_program) *is_program = program;
  std::error_code ec;
  const std::filesystem::path path = program ? "/proc/self/exe" : map->l_name;
  return std::filesystem::weakly_canonical(std::filesystem::absolute(path, ec), ec).string();
}

// What failing to load a module file means, with a hint where the message
// names a CUDA library (the module's own dependencies).
std::string unloadable(const std::string& path, const std::string& error) {
  std::string reason = "the CUDA module " + path + " cannot be loaded: " + error;
  for (const char* lib : {"libcudart", "libcublas", "libcudnn"})
    if (error.find(lib) != std::string::npos) {
      reason += " (the CUDA runtime, cuBLAS or cuDNN is not installed where the loader looks)";
      break;
    }
  return reason;
}

// The checks that make the function table safe to call.
Loaded check(EntryPoint entry, const std::string& path) {
  Loaded out;
  out.path = path;
  if (!entry) {
    out.reason = "the CUDA module " + path + " has no entry point " + kEntrySymbol + " (not a Nocturne CUDA module)";
    return out;
  }
  const CudaModule* module = entry();
  if (!module) {
    out.reason = "the CUDA module " + path + " returned no function table";
  } else if (module->interface_version != kInterfaceVersion) {
    out.reason = "the CUDA module " + path + " has module interface version " +
                 std::to_string(module->interface_version) + ", this library " + std::to_string(kInterfaceVersion) +
                 ": it belongs to another Nocturne build";
  } else if (!module->stamp || std::strcmp(module->stamp, core_stamp()) != 0) {
    out.reason = "the CUDA module " + path + " was built for another Nocturne build (module: " +
                 (module->stamp ? module->stamp : "no stamp") + "; this library: " + core_stamp() + ")";
  } else if (!module->status || !module->create) {
    out.reason = "the CUDA module " + path + " has an incomplete function table";
  } else {
    out.module = module;
  }
  return out;
}

Loaded open_file(const std::string& path) {
  ::dlerror();
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    Loaded out;
    out.path = path;
    out.reason = unloadable(path, last_dl_error());
    return out;
  }
  return check(reinterpret_cast<EntryPoint>(::dlsym(handle, kEntrySymbol)), path);
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

}  // namespace

const char* core_stamp() { return NOCTURNE_CUDA_MODULE_STAMP; }

Loaded load(const Search& search) {
  if (search.in_process) {
    if (void* entry = ::dlsym(RTLD_DEFAULT, kEntrySymbol))
      return check(reinterpret_cast<EntryPoint>(entry), object_path(entry));
  }
  if (!search.variable.empty()) {
    if (!is_file(search.variable)) {
      Loaded out;
      out.reason = std::string(kPathVariable) + "=" + search.variable + ": no such file (the CUDA module)";
      return out;
    }
    return open_file(search.variable);
  }
  std::string looked;
  if (!search.beside.empty()) {
    const std::string path = (std::filesystem::path(search.beside) / kFileName).string();
    if (is_file(path)) return open_file(path);
    looked = search.beside + " (beside " + search.beside_what + ")";
  }
  if (search.loader_path) {
    ::dlerror();
    if (void* handle = ::dlopen(kFileName, RTLD_NOW | RTLD_LOCAL)) {
      const auto entry = reinterpret_cast<EntryPoint>(::dlsym(handle, kEntrySymbol));
      return check(entry, entry ? object_path(reinterpret_cast<const void*>(entry)) : std::string(kFileName));
    }
    const std::string error = last_dl_error();
    // Found, but its own dependencies are missing: say so, not "absent".
    if (error.find(std::string(kFileName) + ": cannot open shared object file") == std::string::npos)
      return Loaded{nullptr, kFileName, unloadable(kFileName, error)};
    looked += std::string(looked.empty() ? "" : " and ") + "the dynamic loader's path";
  }
  Loaded out;
  out.reason = std::string("the CUDA module ") + kFileName + " is not installed (looked in " +
               (looked.empty() ? std::string("no folder") : looked) + "; " + kPathVariable + " may name it)";
  return out;
}

Search default_search() {
  Search search;
  if (const char* value = std::getenv(kPathVariable); value && *value) search.variable = value;
  bool program = false;
  const std::string self = object_path(reinterpret_cast<const void*>(&core_stamp), &program);
  if (!self.empty()) search.beside = std::filesystem::path(self).parent_path().string();
  if (program) search.beside_what = "the program";
  return search;
}

const Loaded& loaded() {
  static const Loaded once = load(default_search());
  return once;
}

}  // namespace nocturne::cuda_module
