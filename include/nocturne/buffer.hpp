#pragma once
// Device-tagged memory. A Buffer owns its bytes (move-only); copies between
// host and device are explicit calls on a backend.

#include <cstddef>
#include <utility>

#include "nocturne/export.hpp"

namespace nocturne::inline v0 {

enum class Device { cpu, cuda };

inline const char* device_name(Device d) { return d == Device::cpu ? "cpu" : "cuda"; }

// Untyped owned allocation; `release` frees it on the device it came from.
class NOCTURNE_API RawBuffer {
 public:
  using Release = void (*)(void*);

  RawBuffer() = default;
  RawBuffer(void* data, std::size_t bytes, Device device, Release release)
      : data_(data), bytes_(bytes), device_(device), release_(release) {}
  RawBuffer(RawBuffer&& other) noexcept { swap(other); }
  RawBuffer& operator=(RawBuffer&& other) noexcept {
    RawBuffer(std::move(other)).swap(*this);
    return *this;
  }
  RawBuffer(const RawBuffer&) = delete;
  RawBuffer& operator=(const RawBuffer&) = delete;
  ~RawBuffer() {
    if (data_ && release_) release_(data_);
  }

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  void swap(RawBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
    std::swap(device_, other.device_);
    std::swap(release_, other.release_);
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_ = Device::cpu;
  Release release_ = nullptr;
};

// A typed array of `size()` elements on one device. data() is a device
// pointer for Device::cuda: pass it to backend ops, never dereference it.
template <typename E>
class NOCTURNE_API Buffer {
 public:
  Buffer() = default;
  Buffer(RawBuffer raw, std::size_t size) : raw_(std::move(raw)), size_(size) {}
  Buffer(Buffer&& other) noexcept : raw_(std::move(other.raw_)), size_(std::exchange(other.size_, 0)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    raw_ = std::move(other.raw_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  E* data() { return static_cast<E*>(raw_.data()); }
  const E* data() const { return static_cast<const E*>(raw_.data()); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Device device() const { return raw_.device(); }

 private:
  RawBuffer raw_;
  std::size_t size_ = 0;
};

}  // namespace nocturne
