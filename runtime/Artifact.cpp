//===- Artifact.cpp - Loading a compiled artifact and calling it ----------===//

#include "runtime/Artifact.h"

#include "runtime/Failure.h"
#include "runtime/MemRefDescriptor.h"

#include <dlfcn.h>
#include <sys/stat.h>

namespace pce::rt {

using detail::fail;

using EntryFn = void (*)(void **);

struct Artifact::Impl {
  std::string dir;
  Manifest manifest;
  void *handle = nullptr;
  std::map<std::string, EntryFn> entries; // by entry point name
  TensorMap parameters;                   // bound parameters by name
  std::vector<std::string> warnings;

  ~Impl() {
    if (handle)
      ::dlclose(handle);
  }
};

Artifact::Artifact(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Artifact::Artifact(Artifact &&) noexcept = default;
Artifact &Artifact::operator=(Artifact &&) noexcept = default;
Artifact::~Artifact() = default;

const Manifest &Artifact::manifest() const { return impl_->manifest; }
const std::string &Artifact::directory() const { return impl_->dir; }
const std::vector<std::string> &Artifact::warnings() const { return impl_->warnings; }

namespace {

std::string dlErrorText() {
  const char *e = ::dlerror();
  return e ? e : "unknown dlopen error";
}

void *lookup(void *handle, const std::string &name) {
  ::dlerror(); // clear any stale error
  return ::dlsym(handle, name.c_str());
}

// Compares the library's signature with the manifest's; the message shows the
// first differing item and both full strings.
void checkSignature(const std::string &where, const EntryPoint &ep, const std::string &libName,
                    const std::string &fromLibrary) {
  std::string fromManifest = canonicalSignature(ep);
  if (fromLibrary == fromManifest)
    return;
  auto lib = splitSignature(fromLibrary), man = splitSignature(fromManifest);
  size_t i = 0;
  while (i < lib.size() && i < man.size() && lib[i] == man[i])
    ++i;
  auto item = [](const std::vector<std::string> &v, size_t k) {
    return k < v.size() ? "'" + v[k] + "'" : std::string("(none)");
  };
  fail(where + "entry point '" + ep.name + "': the signature compiled into " + libName +
       " differs from manifest.json at item " + std::to_string(i) + ": library has " + item(lib, i) +
       ", manifest has " + item(man, i) + "\n  library:  " + fromLibrary +
       "\n  manifest: " + fromManifest);
}

void checkTensor(const std::string &what, const TensorSpec &spec, const HostTensor &t) {
  if (t.dtype != spec.dtype || t.shape != spec.shape)
    fail(what + " expects " + spec.typeString() + ", found " + t.typeString());
  if (!t.consistent())
    fail(what + " (" + t.typeString() + ") holds " + std::to_string(t.nbytes()) +
         " bytes of data, expected " +
         std::to_string(static_cast<uint64_t>(t.numel()) * dtypeSize(t.dtype)));
}

} // namespace

Expected<Artifact> Artifact::open(const std::string &dirIn) {
  return detail::guard<Artifact>([&] {
    auto impl = std::make_unique<Impl>();
    std::string dir = dirIn.empty() ? "." : dirIn;
    while (dir.size() > 1 && dir.back() == '/')
      dir.pop_back();
    impl->dir = dir;
    std::string where = "artifact " + dir + ": ";

    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      fail(where + "not a directory");
    auto manifest = readManifest(dir + "/" + kManifestFileName);
    if (!manifest)
      fail(manifest.error());
    impl->manifest = std::move(*manifest);
    const Manifest &m = impl->manifest;

    // A path with a '/' makes dlopen load exactly this file (no search path).
    std::string libPath = dir + "/" + m.library;
    if (::stat(libPath.c_str(), &st) != 0)
      fail(where + "library '" + m.library + "' named in manifest.json does not exist (" + libPath + ")");
    ::dlerror();
    impl->handle = ::dlopen(libPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!impl->handle)
      fail(where + "cannot load " + libPath + ": " + dlErrorText());

    for (const EntryPoint &ep : m.entryPoints) {
      void *fn = lookup(impl->handle, ep.symbol);
      if (!fn)
        fail(where + "library " + m.library + " lacks the symbol '" + ep.symbol + "' of entry point '" +
             ep.name + "'");
      std::string sigName = ep.symbol + "_signature";
      const char *sig = static_cast<const char *>(lookup(impl->handle, sigName));
      if (!sig)
        fail(where + "library " + m.library + " lacks the symbol '" + sigName +
             "' (signature of entry point '" + ep.name + "')");
      checkSignature(where, ep, m.library, sig);
      impl->entries[ep.name] = reinterpret_cast<EntryFn>(fn);
    }
    return Artifact(std::move(impl));
  });
}

Status Artifact::bindParameters(const SafetensorsFile &weights) {
  return detail::guardStatus([&] {
    const std::string src = weights.path.empty() ? "(in memory)" : weights.path;
    std::string problems;
    for (const TensorSpec &p : impl_->manifest.parameters) {
      const HostTensor *t = weights.find(p.name);
      std::string line;
      if (!t)
        line = "weights file " + src + " lacks parameter '" + p.name + "' " + shapeToString(p.shape) +
               " " + dtypeName(p.dtype);
      else if (t->dtype != p.dtype || t->shape != p.shape)
        line = "weights file " + src + ": parameter '" + p.name + "' is " + shapeToString(t->shape) +
               " " + dtypeName(t->dtype) + " but the artifact expects " + shapeToString(p.shape) + " " +
               dtypeName(p.dtype);
      if (!line.empty())
        problems += (problems.empty() ? "" : "\n") + line;
    }
    if (!problems.empty())
      fail(problems);
    TensorMap bound;
    for (const TensorSpec &p : impl_->manifest.parameters)
      bound.emplace(p.name, *weights.find(p.name));
    std::vector<std::string> warnings;
    for (const auto &[name, t] : weights.tensors)
      if (!impl_->manifest.findParameter(name))
        warnings.push_back("weights file " + src + " has tensor '" + name + "' " + t.typeString() +
                           " that the artifact does not use");
    impl_->parameters = std::move(bound);
    impl_->warnings = std::move(warnings);
  });
}

Status Artifact::bindParameter(const std::string &name, HostTensor value) {
  return detail::guardStatus([&] {
    const TensorSpec *p = impl_->manifest.findParameter(name);
    if (!p)
      fail("artifact " + impl_->dir + " has no parameter '" + name + "'");
    checkTensor("parameter '" + name + "'", *p, value);
    impl_->parameters[name] = std::move(value);
  });
}

Expected<TensorMap> Artifact::run(const std::string &entryName, const TensorMap &inputs) const {
  return detail::guard<TensorMap>([&]() -> TensorMap {
    const EntryPoint *ep = impl_->manifest.findEntry(entryName);
    if (!ep) {
      std::string names;
      for (const auto &e : impl_->manifest.entryPoints)
        names += (names.empty() ? "" : ", ") + e.name;
      fail("artifact " + impl_->dir + " has no entry point '" + entryName + "' (available: " + names + ")");
    }
    std::string where = "entry point '" + ep->name + "': ";
    for (const auto &[name, t] : inputs)
      if (!ep->findArgument(name)) {
        std::string names;
        for (const auto &a : ep->arguments)
          names += (names.empty() ? "" : ", ") + a.name;
        fail(where + "no argument named '" + name + "' (arguments: " + names + ")");
      }

    MemRefPack pack;
    for (const BufferSpec &a : ep->arguments) {
      const HostTensor *t = nullptr;
      auto given = inputs.find(a.name);
      if (given != inputs.end()) {
        t = &given->second;
      } else if (a.kind == ArgKind::Parameter) {
        auto bound = impl_->parameters.find(a.name);
        if (bound == impl_->parameters.end())
          fail(where + "parameter '" + a.name + "' " + a.typeString() +
               " is not bound (call bindParameters first)");
        t = &bound->second;
      } else {
        fail(where + "missing input '" + a.name + "' " + a.typeString());
      }
      checkTensor(where + argKindName(a.kind) + " '" + a.name + "'", a, *t);
      // Compiled code only reads arguments; the descriptor type is not const.
      pack.add(const_cast<uint8_t *>(t->data.data()), t->shape);
    }

    TensorMap results;
    std::vector<HostTensor *> order;
    for (const BufferSpec &r : ep->results) {
      auto t = HostTensor::create(r.dtype, r.shape);
      if (!t)
        fail(where + "result '" + r.name + "': " + t.error());
      HostTensor &slot = results[r.name] = std::move(*t);
      order.push_back(&slot);
    }
    for (HostTensor *t : order) // std::map nodes are stable
      pack.add(t->data.data(), t->shape);

    impl_->entries.at(ep->name)(pack.args());
    return results;
  });
}

} // namespace pce::rt
