#pragma once
// Writing a whole file so that readers never see half of it: the bytes go to a
// temporary file in the same folder, which is then renamed over the target.

#include <filesystem>
#include <string_view>

namespace nocturne::detail {

// Throws FileError naming `path` when the file cannot be written or renamed.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace nocturne::detail
