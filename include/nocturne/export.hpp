#pragma once
// NOCTURNE_API marks what the shared library exports: the classes and
// functions of these public headers. The library is compiled with hidden
// visibility (-fvisibility=hidden), so everything else in it (src/) stays
// inside it; docs/library.md, "Versions and exported symbols".

#if defined(__GNUC__) || defined(__clang__)
#define NOCTURNE_API __attribute__((visibility("default")))
#else
#define NOCTURNE_API
#endif
