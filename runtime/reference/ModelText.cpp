//===- ModelText.cpp - random models as MLIR text, checked in float64 -----===//

#include "runtime/reference/ModelText.h"

#include <cstring>
#include <limits>
#include <sstream>

namespace pce::agree {

std::string tensorType(c10::IntArrayRef shape, bool f64) {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + (f64 ? "f64>" : "f32>");
}

torch::Tensor roundToFloat(const torch::Tensor &t) {
  return t.to(torch::kFloat32).to(torch::kFloat64);
}

std::string ModelText::add(const std::string &attr, const std::string &name,
                           const torch::Tensor &value) {
  std::string ssa = "%a" + std::to_string(args_.size());
  args_.push_back(ssa + ": " + tensorType(value.sizes(), f64_) + " {" + attr +
                  " = \"" + name + "\"}");
  values_[name] = f64_ ? value.detach().to(torch::kFloat64).clone()
                       : roundToFloat(value.detach());
  return ssa;
}

std::string ModelText::input(const std::string &name, const torch::Tensor &value) {
  return add("pce.input", name, value);
}

std::string ModelText::param(const std::string &name, const torch::Tensor &value) {
  return add("pce.param", name, value);
}

void ModelText::line(const std::string &text) { body_.push_back(text); }

void ModelText::output(const std::string &name, const std::string &ssa,
                       c10::IntArrayRef shape) {
  returned_.push_back(ssa);
  resultTypes_.push_back(tensorType(shape, f64_));
  results_.push_back(tensorType(shape, f64_) + " {pce.output = \"" + name + "\"}");
}

std::string ModelText::text() const {
  std::ostringstream os;
  os << "func.func @forward(";
  for (size_t i = 0; i < args_.size(); ++i)
    os << (i ? ",\n    " : "\n    ") << args_[i];
  os << ") -> (";
  for (size_t i = 0; i < results_.size(); ++i)
    os << (i ? ", " : "") << results_[i];
  os << ")" << (differentiable_ ? " attributes {pce.differentiable}" : "")
     << " {\n";
  for (const std::string &l : body_)
    os << "  " << l << "\n";
  os << "  return ";
  for (size_t i = 0; i < returned_.size(); ++i)
    os << (i ? ", " : "") << returned_[i];
  os << " : ";
  for (size_t i = 0; i < resultTypes_.size(); ++i)
    os << (i ? ", " : "") << resultTypes_[i];
  os << "\n}\n";
  return os.str();
}

const torch::Tensor &ModelText::value(const std::string &name) const {
  return values_.at(name);
}

rt::HostTensor toHost(const torch::Tensor &t, bool f64) {
  auto contiguous = t.to(f64 ? torch::kFloat64 : torch::kFloat32).contiguous();
  auto host = rt::HostTensor::create(
      f64 ? rt::DType::F64 : rt::DType::F32,
      std::vector<int64_t>(t.sizes().begin(), t.sizes().end()));
  std::memcpy(host->data.data(), contiguous.data_ptr(), host->nbytes());
  return std::move(*host);
}

torch::Tensor fromHost(const rt::HostTensor &h) {
  bool f64 = h.dtype == rt::DType::F64;
  auto t = torch::empty(std::vector<int64_t>(h.shape.begin(), h.shape.end()),
                        f64 ? torch::kFloat64 : torch::kFloat32);
  std::memcpy(t.data_ptr(), h.data.data(), h.nbytes());
  return t.to(torch::kFloat64);
}

double relativeError(const torch::Tensor &out, const torch::Tensor &ref) {
  if (!out.defined() || !ref.defined() || out.sizes() != ref.sizes())
    return std::numeric_limits<double>::infinity();
  if (torch::isnan(out).any().item<bool>() || torch::isnan(ref).any().item<bool>())
    return std::numeric_limits<double>::infinity();
  double scale = std::max(1.0, ref.abs().max().item<double>());
  return (out - ref).abs().max().item<double>() / scale;
}

} // namespace pce::agree
