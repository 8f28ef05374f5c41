// The library's own version, compiled in: a program built against other
// headers still learns which library it runs with.

#include "nocturne/version.hpp"

namespace nocturne::inline v0 {

Version version() { return {NOCTURNE_VERSION_MAJOR, NOCTURNE_VERSION_MINOR, NOCTURNE_VERSION_PATCH, NOCTURNE_VERSION_STRING}; }

}  // namespace nocturne
