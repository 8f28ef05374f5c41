#pragma once
// The CUDA backend lives in a module of its own, libnocturne-cuda.so, which
// the core library loads on demand (dlopen), so that the core never links the
// CUDA runtime and a program starts on any machine. This header is the
// contract between the two: the module's one exported C symbol, and the
// checks the core makes before it trusts anything behind it.
//
// Only the first two fields of CudaModule have a fixed C layout, so a module
// of any build can be asked who it is. The function table after them passes
// C++ types (CudaStatus, CudaOptions, a Backend, exceptions) and is used only
// when the module's stamp equals the core's: the same Nocturne version, the
// same interface headers (a hash of them) and the same compiler.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nocturne/backend.hpp"
#include "nocturne/cuda.hpp"

namespace nocturne::inline v0::bench {
struct LstmBenchOptions;
struct Row;
class Meta;
}  // namespace nocturne::bench

namespace nocturne::inline v0::cuda_module {

// The module's file name, and the symbol it exports.
inline constexpr const char* kFileName = "libnocturne-cuda.so";
inline constexpr const char* kEntrySymbol = "nocturne_cuda_module";
// The environment variable that names the module file to load (and no other).
inline constexpr const char* kPathVariable = "NOCTURNE_CUDA_MODULE";
// Raised when the layout of CudaModule changes.
inline constexpr std::uint32_t kInterfaceVersion = 1;

struct CudaModule {
  // Fixed C layout, read before anything else.
  std::uint32_t interface_version;
  const char* stamp;  // NOCTURNE_CUDA_MODULE_STAMP of the module's build
  // Valid only when both match the core's.
  CudaStatus (*status)();  // never throws
  std::unique_ptr<Backend> (*create)(const CudaOptions& options);  // throws nocturne::Error
  // The CUDA half of the LSTM benchmark (src/lstm_bench): appends its rows.
  void (*lstm_bench)(const bench::LstmBenchOptions& options, bench::Meta& meta, std::vector<bench::Row>& rows);
};

// The entry point's type: `extern "C" const CudaModule* nocturne_cuda_module()`.
using EntryPoint = const CudaModule* (*)();

// The outcome of looking for the module: the table, or why there is none.
struct Loaded {
  const CudaModule* module = nullptr;
  std::string path;    // the file that was loaded (or refused); empty when none was found
  std::string reason;  // why module is null: absent, unloadable, or refused
};

// Where to look, in order: a module already in the process (a program that
// links it, as the GPU tests do), the file `variable` names when it is set
// (then nowhere else), `beside` (the core library's folder), then the dynamic
// loader's own search by file name.
struct Search {
  bool in_process = true;
  std::string variable;  // the value of NOCTURNE_CUDA_MODULE; empty: unset
  std::string beside;    // a folder; empty: skip
  // What `beside` is the folder of, for the message that says where the
  // module was looked for: the core library, or the program linked with it.
  std::string beside_what = "the Nocturne library";
  bool loader_path = true;
};

// Loads and checks the module; never throws. The module stays loaded for the
// life of the process (its backends and buffers point into it).
Loaded load(const Search& search);

// The search a process makes: NOCTURNE_CUDA_MODULE, the folder of the core
// library (or of the program that links it statically).
Search default_search();

// load(default_search()), once per process.
const Loaded& loaded();

// The stamp the core was built with (NOCTURNE_CUDA_MODULE_STAMP).
const char* core_stamp();

}  // namespace nocturne::cuda_module
