//===- TensorConvert.h - torch::Tensor <-> pce::rt::HostTensor ------------===//
//
// The compiled entry points read and write HostTensors. toHost copies (one
// memcpy) because a HostTensor owns its 64-byte aligned buffer; toTorch takes
// the HostTensor over without copying (the torch tensor's deleter frees it).
//
//===----------------------------------------------------------------------===//
#ifndef PCE_RUNTIME_TORCH_TENSORCONVERT_H
#define PCE_RUNTIME_TORCH_TENSORCONVERT_H

#include "runtime/HostTensor.h"

#include <torch/types.h>

#include <string>

namespace pce::torchrt {

// A CPU or CUDA tensor of dtype f32/f64/i64/i32/u8 -> a row-major HostTensor
// (copy; a CUDA tensor is copied to the host first). Throws
// std::runtime_error naming `what` for any other dtype or device.
rt::HostTensor toHost(const torch::Tensor &t, const std::string &what = "tensor");

// Takes ownership of h's buffer (no copy).
torch::Tensor toTorch(rt::HostTensor &&h);
// The same, then on `device` (a copy unless it is the CPU).
torch::Tensor toTorch(rt::HostTensor &&h, const torch::Device &device);

torch::ScalarType scalarType(rt::DType dtype);

} // namespace pce::torchrt

#endif // PCE_RUNTIME_TORCH_TENSORCONVERT_H
