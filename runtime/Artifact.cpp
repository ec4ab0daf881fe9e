//===- Artifact.cpp - Loading a compiled artifact and calling it ----------===//

#include "runtime/Artifact.h"
#include "runtime/CpuFeatures.h"
#include "runtime/CompiledCuda.h"
#include "runtime/Memory.h"
#include "runtime/ThreadPool.h"

#include "runtime/Failure.h"
#include "runtime/MemRefDescriptor.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstring>

namespace pce::rt {

using detail::fail;

using EntryFn = void (*)(void **);

struct Artifact::Impl {
  std::string dir;
  Manifest manifest;
  void *handle = nullptr;
  bool cuda = false;                      // target "cuda": bound, staged calls
  std::map<std::string, EntryFn> entries; // by entry point name
  TensorMap parameters;                   // bound parameters by name
  int threads = defaultThreadCount();     // for batches split into chunks
  std::vector<std::string> warnings;

  ~Impl() {
    if (handle && cuda)
      cuda::unbindCompiledLibrary(handle);
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

/// The batch an entry point was compiled for: the leading dimension that every
/// data buffer (inputs, outputs, routing) shares; 0 when they share none.
int64_t compiledBatch(const EntryPoint &ep) {
  int64_t batch = 0;
  auto visit = [&](const BufferSpec &b) {
    if (b.kind == ArgKind::Parameter)
      return true;
    if (b.shape.empty() || (batch && b.shape[0] != batch))
      return false;
    batch = b.shape[0];
    return true;
  };
  for (const BufferSpec &a : ep.arguments)
    if (!visit(a))
      return 0;
  for (const BufferSpec &r : ep.results)
    if (!visit(r))
      return 0;
  return batch;
}

/// How many chunks of the compiled batch `t` holds for input `spec`: 1 for
/// the compiled shape, k for k times the batch, 0 when it fits neither.
int64_t chunksOf(const BufferSpec &spec, const HostTensor &t, int64_t batch) {
  if (t.dtype != spec.dtype || t.shape.size() != spec.shape.size())
    return 0;
  if (t.shape == spec.shape)
    return 1;
  if (batch <= 0 || t.shape[0] <= 0 || t.shape[0] % batch != 0 ||
      !std::equal(t.shape.begin() + 1, t.shape.end(), spec.shape.begin() + 1))
    return 0;
  return t.shape[0] / batch;
}

/// A CUDA artifact's call: every argument and result in managed memory (the
/// kernels cannot read pageable host memory), chunks one after another, and
/// the first error the compiled code met reported with the kernel it names.
template <typename ChunkOf>
void runStaged(const EntryPoint &ep, EntryFn fn, const std::vector<const HostTensor *> &args,
               const std::vector<HostTensor *> &results, int64_t chunks, ChunkOf chunkOf) {
  auto ctx = cuda::compiledCodeContext();
  if (!ctx)
    fail("entry point '" + ep.name + "': " + ctx.error());
  struct Staged {
    cuda::Context *ctx = nullptr;
    void *data = nullptr;
    ~Staged() {
      if (ctx)
        (void)ctx->freeManaged(data);
    }
  };
  auto stage = [&](const BufferSpec &spec, const void *from) {
    size_t bytes = static_cast<size_t>(checkedNumel(spec.shape).value_or(0)) * dtypeSize(spec.dtype);
    auto p = (*ctx)->allocateManaged(bytes);
    if (!p)
      fail("entry point '" + ep.name + "', buffer '" + spec.name + "': " + p.error());
    auto staged = std::make_unique<Staged>();
    staged->ctx = *ctx;
    staged->data = *p;
    if (from && bytes)
      std::memcpy(staged->data, from, bytes);
    return staged;
  };
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<std::unique_ptr<Staged>> in, out;
    MemRefPack pack;
    for (size_t i = 0; i < args.size(); ++i) {
      in.push_back(stage(ep.arguments[i], chunkOf(*args[i], ep.arguments[i], c)));
      pack.add(in.back()->data, ep.arguments[i].shape);
    }
    for (size_t i = 0; i < results.size(); ++i) {
      out.push_back(stage(ep.results[i], nullptr));
      pack.add(out.back()->data, ep.results[i].shape);
    }
    cuda::takeCompiledCodeError();
    fn(pack.args());
    // The host code synchronises after every launch: results are final.
    std::string error = cuda::takeCompiledCodeError();
    if (!error.empty())
      fail("entry point '" + ep.name + "': " + error);
    for (size_t i = 0; i < results.size(); ++i) {
      const BufferSpec &spec = ep.results[i];
      size_t bytes = static_cast<size_t>(checkedNumel(spec.shape).value_or(0)) * dtypeSize(spec.dtype);
      std::memcpy(chunkOf(*results[i], spec, c), out[i]->data, bytes);
    }
  }
}

} // namespace

void Artifact::setThreads(int threads) { impl_->threads = threads > 0 ? threads : 1; }

int Artifact::threads() const { return impl_->threads; }

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
    // Before dlopen: code for instructions this CPU lacks would die of SIGILL.
    if (m.cpu)
      if (std::string refusal = cpuFeatureRefusal(dir, m.cpu->name, m.cpu->features); !refusal.empty())
        fail(refusal);

    // A path with a '/' makes dlopen load exactly this file (no search path).
    std::string libPath = dir + "/" + m.library;
    if (::stat(libPath.c_str(), &st) != 0)
      fail(where + "library '" + m.library + "' named in manifest.json does not exist (" + libPath + ")");
    ::dlerror();
    impl->handle = ::dlopen(libPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!impl->handle)
      fail(where + "cannot load " + libPath + ": " + dlErrorText());
    installCompiledLoopHook(impl->handle);
    if (m.target == "cuda") {
      // Fill the library's imports and load its kernels (CompiledCudaAbi.h).
      if (Status s = cuda::bindCompiledLibrary(impl->handle, "library " + m.library); !s)
        fail(where + s.message());
      impl->cuda = true;
      impl->threads = 1; // one context, calls in order
    }
    // Compiled calls free their temporaries and allocate them again next
    // call: keep that memory in the process (runtime/Memory.h).
    keepFreedMemoryForReuse();

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

    // Resolve every argument; inputs may hold k times the compiled batch, in
    // which case the entry point runs once per chunk, chunks in parallel.
    int64_t batch = compiledBatch(*ep);
    int64_t chunks = 0;
    std::vector<const HostTensor *> args;
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
      std::string what = where + argKindName(a.kind) + " '" + a.name + "'";
      if (a.kind == ArgKind::Input) {
        int64_t k = chunksOf(a, *t, batch);
        if (k == 0 || (chunks && k != chunks))
          fail(what + " expects " + a.typeString() + ", found " + t->typeString() +
               (batch ? " (a batch of k*" + std::to_string(batch) +
                            " items, the same k for every input, runs too)"
                      : std::string()));
        chunks = k;
        if (!t->consistent())
          checkTensor(what, a, *t);
      } else {
        checkTensor(what, a, *t);
      }
      args.push_back(t);
    }
    chunks = std::max<int64_t>(chunks, 1);

    TensorMap results;
    std::vector<HostTensor *> order;
    for (const BufferSpec &r : ep->results) {
      std::vector<int64_t> shape = r.shape;
      if (chunks > 1)
        shape[0] *= chunks;
      auto t = HostTensor::create(r.dtype, shape);
      if (!t)
        fail(where + "result '" + r.name + "': " + t.error());
      HostTensor &slot = results[r.name] = std::move(*t);
      order.push_back(&slot); // std::map nodes are stable
    }

    // Chunk c of a batched buffer starts c/chunks of the way into its data.
    auto chunkOf = [&](const HostTensor &t, const BufferSpec &spec, int64_t c) {
      uint8_t *data = const_cast<uint8_t *>(t.data.data());
      if (spec.kind == ArgKind::Parameter || chunks == 1)
        return data;
      return data + c * (t.nbytes() / chunks);
    };
    EntryFn fn = impl_->entries.at(ep->name);
    if (impl_->cuda) {
      runStaged(*ep, fn, args, order, chunks, chunkOf);
      return results;
    }
    parallelFor(chunks, impl_->threads, [&](int64_t c) {
      MemRefPack pack;
      // Compiled code only reads arguments; the descriptor type is not const.
      for (size_t i = 0; i < args.size(); ++i)
        pack.add(chunkOf(*args[i], ep->arguments[i], c), ep->arguments[i].shape);
      for (size_t i = 0; i < order.size(); ++i)
        pack.add(chunkOf(*order[i], ep->results[i], c), ep->results[i].shape);
      fn(pack.args());
    });
    return results;
  });
}

} // namespace pce::rt
