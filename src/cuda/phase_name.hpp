#pragma once
// The phase a step program's op counts towards in phase timing: its name
// without the step suffix the model gives per-step ops, so
// "lstm1 forward t=12" counts as "lstm1 forward". Plain C++, tested on the host.

#include <algorithm>
#include <cctype>
#include <string>

namespace nocturne::inline v0::cuda {

inline std::string phase_of(const std::string& op_name) {
  const std::size_t at = op_name.rfind(" t=");
  if (at == std::string::npos || at + 3 == op_name.size()) return op_name;
  const bool digits = std::all_of(op_name.begin() + std::ptrdiff_t(at) + 3, op_name.end(),
                                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
  return digits ? op_name.substr(0, at) : op_name;
}

}  // namespace nocturne::cuda
