#pragma once
// A small RGB canvas for the plots: pixels, lines, rectangles, text in a
// built-in 5 x 7 bitmap font, and PNG encoding through libpng.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace nocturne::inline v0::render {

struct Color {
  std::uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Color&, const Color&) = default;
};

class Canvas {
 public:
  Canvas(int width, int height, Color background);

  int width() const { return width_; }
  int height() const { return height_; }
  void set(int x, int y, Color c);  // ignores points outside the canvas
  Color get(int x, int y) const;
  void fill_rect(int x0, int y0, int x1, int y1, Color c);  // inclusive corners, clipped
  void rect(int x0, int y0, int x1, int y1, Color c);       // outline
  // A line `thickness` pixels wide (Bresenham, squares stamped along it).
  void line(int x0, int y0, int x1, int y1, Color c, int thickness = 1);
  // Text with its top-left corner at (x, y), each font pixel scale x scale.
  // Lower-case letters are drawn as capitals; unknown characters as blanks.
  void text(int x, int y, std::string_view s, Color c, int scale = 1);
  static int text_width(std::string_view s, int scale = 1) {
    return s.empty() ? 0 : int(s.size()) * 6 * scale - scale;
  }
  static int text_height(int scale = 1) { return 7 * scale; }

  // The PNG file as bytes (8-bit RGB).
  std::string encode_png() const;
  // Writes encode_png() atomically. Throws FileError.
  void write_png(const std::filesystem::path& path) const;

 private:
  int width_, height_;
  std::vector<std::uint8_t> pixels_;  // RGB rows
};

// "0.25", "1", "1e+03": a short label for a tick value.
std::string tick_label(double value);
// Ticks at a "nice" step (1, 2 or 5 times a power of ten) covering [lo, hi],
// about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace nocturne::render
