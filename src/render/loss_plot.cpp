// The loss curve: training loss and validation loss against the epoch.

#include <algorithm>
#include <cmath>
#include <limits>

#include "nocturne/render.hpp"
#include "render/image.hpp"

namespace nocturne::inline v0 {

namespace {

using render::Canvas;
using render::Color;

constexpr Color kBackground{255, 255, 255};
constexpr Color kAxis{40, 40, 40};
constexpr Color kGrid{225, 225, 225};
constexpr Color kTraining{31, 119, 180};    // blue
constexpr Color kValidation{255, 127, 14};  // orange

// Plot area inside the image.
constexpr int kLeft = 90, kRight = loss_plot_width - 20, kTop = 40, kBottom = loss_plot_height - 60;

void draw_curve(Canvas& canvas, std::span<const LossPoint> points, double LossPoint::*member, Color color,
                double x_lo, double x_hi, double y_lo, double y_hi) {
  auto px = [&](double x) { return kLeft + int(std::lround((x - x_lo) / (x_hi - x_lo) * (kRight - kLeft))); };
  auto py = [&](double y) { return kBottom - int(std::lround((y - y_lo) / (y_hi - y_lo) * (kBottom - kTop))); };
  bool have_previous = false;
  int last_x = 0, last_y = 0;
  for (const LossPoint& p : points) {
    const double v = p.*member;
    if (!std::isfinite(v)) continue;  // an epoch without this measure: join its neighbours
    const int x = px(p.epoch), y = py(std::clamp(v, y_lo, y_hi));
    if (have_previous) canvas.line(last_x, last_y, x, y, color, 2);
    canvas.fill_rect(x - 2, y - 2, x + 2, y + 2, color);
    have_previous = true;
    last_x = x;
    last_y = y;
  }
}

}  // namespace

void write_loss_plot(const std::filesystem::path& png, std::span<const LossPoint> points) {
  Canvas canvas(loss_plot_width, loss_plot_height, kBackground);

  // Ranges: epochs as given; losses from 0 to 5 % above the largest finite one.
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_hi = 0;
  bool any_validation = false;
  for (const LossPoint& p : points) {
    x_lo = std::min(x_lo, double(p.epoch));
    x_hi = std::max(x_hi, double(p.epoch));
    if (std::isfinite(p.loss)) y_hi = std::max(y_hi, p.loss);
    if (std::isfinite(p.validation_loss)) {
      y_hi = std::max(y_hi, p.validation_loss);
      any_validation = true;
    }
  }
  if (points.empty()) x_lo = 0, x_hi = 1;
  if (x_hi - x_lo < 1) x_lo = x_hi - 1;
  x_lo = std::max(0.0, x_lo);
  if (x_hi <= x_lo) x_hi = x_lo + 1;
  y_hi = y_hi > 0 ? y_hi * 1.05 : 1.0;
  const double y_lo = 0;

  // Grid and ticks.
  auto px = [&](double x) { return kLeft + int(std::lround((x - x_lo) / (x_hi - x_lo) * (kRight - kLeft))); };
  auto py = [&](double y) { return kBottom - int(std::lround((y - y_lo) / (y_hi - y_lo) * (kBottom - kTop))); };
  for (double t : render::nice_ticks(y_lo, y_hi, 6)) {
    const int y = py(t);
    canvas.line(kLeft, y, kRight, y, kGrid);
    canvas.line(kLeft - 6, y, kLeft, y, kAxis);
    const std::string label = render::tick_label(t);
    canvas.text(kLeft - 10 - Canvas::text_width(label, 2), y - Canvas::text_height(2) / 2, label, kAxis, 2);
  }
  std::vector<double> x_ticks = render::nice_ticks(x_lo, x_hi, 8);
  for (double t : x_ticks) {
    if (std::abs(t - std::round(t)) > 1e-9) continue;  // epochs are whole
    const int x = px(t);
    canvas.line(x, kTop, x, kBottom, kGrid);
    canvas.line(x, kBottom, x, kBottom + 6, kAxis);
    const std::string label = render::tick_label(t);
    canvas.text(x - Canvas::text_width(label, 2) / 2, kBottom + 12, label, kAxis, 2);
  }

  // Axes and labels.
  canvas.line(kLeft, kTop, kLeft, kBottom, kAxis, 2);
  canvas.line(kLeft, kBottom, kRight, kBottom, kAxis, 2);
  canvas.text((kLeft + kRight - Canvas::text_width("EPOCH", 2)) / 2, kBottom + 36, "EPOCH", kAxis, 2);
  canvas.text(kLeft, 12, "CROSS-ENTROPY LOSS", kAxis, 2);

  draw_curve(canvas, points, &LossPoint::loss, kTraining, x_lo, x_hi, y_lo, y_hi);
  draw_curve(canvas, points, &LossPoint::validation_loss, kValidation, x_lo, x_hi, y_lo, y_hi);

  // Legend, top right.
  const int entries = any_validation ? 2 : 1;
  const int box_w = 24 + 30 + Canvas::text_width("VALIDATION", 2) + 12, box_h = 12 + entries * 24;
  const int bx = kRight - box_w - 10, by = kTop + 10;
  canvas.fill_rect(bx, by, bx + box_w, by + box_h, kBackground);
  canvas.rect(bx, by, bx + box_w, by + box_h, kAxis);
  auto entry = [&](int row, Color color, const char* label) {
    const int y = by + 12 + row * 24 + 7;
    canvas.line(bx + 10, y, bx + 40, y, color, 3);
    canvas.text(bx + 50, y - 7, label, kAxis, 2);
  };
  entry(0, kTraining, "TRAINING");
  if (any_validation) entry(1, kValidation, "VALIDATION");

  canvas.write_png(png);
}

}  // namespace nocturne
