#pragma once
// Every output the library writes (MIDI, WAV, MusicXML, PNG, JSON, CSV,
// checkpoints) goes through write_file_atomically, one policy for all:
//
//   - a new or regular file: the bytes go to a hidden temporary file in the
//     same folder (".name.tmp-<pid>-<n>"), which is then renamed over it, so
//     readers never see half a file; the replaced file's permissions are kept;
//   - a symbolic link is followed: its final target is replaced as above (or
//     created, when the link dangles) and the link itself stays;
//   - /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N are the streams
//     the program already holds: written to as they are (a shell's `>>` appends);
//   - a character device (/dev/null, a terminal) or a FIFO is written to
//     directly, never replaced;
//   - a folder, a block device or a socket is refused.
// Every failure is a FileError naming the path and the reason, in one line.

#include <filesystem>
#include <string_view>

// The one internal interface the shared core exports beyond its public
// headers (which are all NOCTURNE_API exports): the render library writes
// its files through these two functions. Not installed; docs/library.md,
// "Versions and exported symbols".
#define NOCTURNE_COMPONENT_API __attribute__((visibility("default")))

namespace nocturne::inline v0::detail {

enum class Durability {
  normal,  // rename only
  synced,  // fsync the file before the rename and the folder after it (checkpoints)
};

NOCTURNE_COMPONENT_API void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                                                  Durability durability = Durability::normal);

// Puts a file finished elsewhere (a program's output) at `target` under the
// same policy, then removes `finished`.
NOCTURNE_COMPONENT_API void install_file(const std::filesystem::path& finished, const std::filesystem::path& target);

}  // namespace nocturne::detail
