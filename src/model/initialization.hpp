#pragma once
// Keras' default initialisers, drawn from the counter-based generator.

#include <cstdint>
#include <vector>

#include "nocturne/model.hpp"
#include "core/rng_streams.hpp"

namespace nocturne::inline v0 {

// Fills `values` (layout.buffer_size() elements, padding left at zero) with
// the initial parameters for `seed`. Parameter view k draws from stream
// rng_stream::initialization + k.
void initialize_parameters(const ParameterLayout& layout, std::uint64_t seed, std::vector<double>& values);

// Rows of a rows x cols matrix (rows <= cols) with orthonormal rows: Keras'
// Orthogonal (QR of a Gaussian matrix, signs fixed so R's diagonal is
// positive), computed by classical Gram-Schmidt applied twice.
void orthogonal_rows(int rows, int cols, std::uint64_t seed, std::uint32_t stream, double* out);

}  // namespace nocturne
