//===- TensorConvert.cpp - torch::Tensor <-> pce::rt::HostTensor ----------===//

#include "runtime/torch/TensorConvert.h"

#include <cstring>
#include <memory>
#include <stdexcept>

namespace pce::torchrt {

torch::ScalarType scalarType(rt::DType dtype) {
  switch (dtype) {
  case rt::DType::F32: return torch::kFloat32;
  case rt::DType::F64: return torch::kFloat64;
  case rt::DType::I64: return torch::kInt64;
  case rt::DType::I32: return torch::kInt32;
  case rt::DType::U8: return torch::kUInt8;
  }
  throw std::runtime_error("unknown runtime dtype");
}

static rt::DType runtimeType(torch::ScalarType type, const std::string &what) {
  switch (type) {
  case torch::kFloat32: return rt::DType::F32;
  case torch::kFloat64: return rt::DType::F64;
  case torch::kInt64: return rt::DType::I64;
  case torch::kInt32: return rt::DType::I32;
  case torch::kUInt8: return rt::DType::U8;
  default: break;
  }
  throw std::runtime_error(what + ": dtype " + std::string(c10::toString(type)) +
                           " has no runtime equivalent");
}

rt::HostTensor toHost(const torch::Tensor &t, const std::string &what) {
  if (!t.defined())
    throw std::runtime_error(what + ": undefined tensor");
  if (!t.device().is_cpu() && !t.device().is_cuda())
    throw std::runtime_error(what + ": a tensor on " + t.device().str() +
                             " (the adapter takes CPU and CUDA tensors)");
  rt::DType dtype = runtimeType(t.scalar_type(), what);
  // CUDA tensors come over to the host: the runtime stages every argument
  // itself (into managed memory for a CUDA artifact).
  torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  auto h = rt::HostTensor::create(dtype, c.sizes().vec());
  if (!h)
    throw std::runtime_error(what + ": " + h.error());
  if (h->nbytes())
    std::memcpy(h->data.data(), c.data_ptr(), h->nbytes());
  return std::move(*h);
}

torch::Tensor toTorch(rt::HostTensor &&h) {
  auto owner = std::make_unique<rt::HostTensor>(std::move(h));
  rt::HostTensor *raw = owner.get();
  torch::Tensor t = torch::from_blob(
      raw->data.data(), raw->shape, [raw](void *) { delete raw; },
      torch::TensorOptions().dtype(scalarType(raw->dtype)));
  owner.release(); // the tensor's deleter owns it now
  return t;
}

torch::Tensor toTorch(rt::HostTensor &&h, const torch::Device &device) {
  torch::Tensor t = toTorch(std::move(h));
  return device.is_cpu() ? t : t.to(device);
}

} // namespace pce::torchrt
