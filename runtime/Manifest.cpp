//===- Manifest.cpp - manifest.json of a compiled artifact ----------------===//

#include "runtime/Manifest.h"

#include "runtime/CpuFeatures.h"
#include "runtime/FileIO.h"
#include "runtime/Failure.h"
#include "runtime/Json.h"

#include <cmath>
#include <functional>
#include <map>
#include <set>

namespace pce::rt {

using detail::fail;

const char *argKindName(ArgKind kind) {
  switch (kind) {
  case ArgKind::Input: return "input";
  case ArgKind::Parameter: return "parameter";
  case ArgKind::Output: return "output";
  case ArgKind::Routing: return "routing";
  }
  return "?";
}

std::string TensorSpec::typeString() const { return std::string(dtypeName(dtype)) + shapeToString(shape); }

const BufferSpec *EntryPoint::findArgument(std::string_view n) const {
  for (const auto &a : arguments)
    if (a.name == n)
      return &a;
  return nullptr;
}
const BufferSpec *EntryPoint::findResult(std::string_view n) const {
  for (const auto &r : results)
    if (r.name == n)
      return &r;
  return nullptr;
}
const EntryPoint *Manifest::findEntry(std::string_view n) const {
  for (const auto &e : entryPoints)
    if (e.name == n)
      return &e;
  return nullptr;
}
const ParameterSpec *Manifest::findParameter(std::string_view n) const {
  for (const auto &p : parameters)
    if (p.name == n)
      return &p;
  return nullptr;
}

std::string canonicalSignature(const EntryPoint &entry) {
  std::string s;
  auto add = [&](const BufferSpec &b) {
    if (!s.empty())
      s += ';';
    s += b.name + ":" + argKindName(b.kind) + ":" + dtypeName(b.dtype) + shapeToString(b.shape);
  };
  for (const auto &a : entry.arguments)
    add(a);
  for (const auto &r : entry.results)
    add(r);
  return s;
}

std::vector<std::string> splitSignature(std::string_view signature) {
  std::vector<std::string> items;
  if (signature.empty())
    return items;
  size_t start = 0;
  while (true) {
    size_t semi = signature.find(';', start);
    items.emplace_back(signature.substr(start, semi == std::string_view::npos ? semi : semi - start));
    if (semi == std::string_view::npos)
      break;
    start = semi + 1;
  }
  return items;
}

namespace {

// Maps a JSON path ("entry_points[0].arguments[1]") to the prefix of an error
// message: "SOURCE: byte N: PATH: " when parsed from text, "manifest: PATH: "
// for a manifest built in code.
using Locate = std::function<std::string(const std::string &path)>;

bool isValidName(const std::string &name) {
  if (name.empty() || name[0] == '.' || name[0] == '-')
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  return true;
}

bool isCIdentifier(const std::string &s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9'))
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

void checkName(const std::string &name, const std::string &path, const Locate &locate) {
  if (!isValidName(name))
    fail(locate(path + ".name") + "expected a name of letters, digits, '_', '.', '-' (not starting "
                                  "with '.' or '-'), found '" +
         name + "'");
}

// An initialiser that can fill parameter p (`where` locates it).
void checkInitialiser(const Initialiser &i, const ParameterSpec &p, const std::string &where) {
  switch (i.kind) {
  case Initialiser::Kind::Constant:
    if (!std::isfinite(i.value))
      fail(where + "a constant initialiser needs a finite value");
    break;
  case Initialiser::Kind::HeNormal:
    if (i.fanIn < 1)
      fail(where + "fan_in must be at least 1, found " + std::to_string(i.fanIn));
    break;
  case Initialiser::Kind::UnitRows:
    if (p.shape.empty())
      fail(where + "unit_rows needs a parameter of rank 1 or more");
    break;
  case Initialiser::Kind::IdentityBlocks:
    if (p.shape.size() != 2 || p.shape[0] < 1 || p.shape[1] % p.shape[0] != 0)
      fail(where + "identity_blocks needs a [r, k*r] parameter, found " + shapeToString(p.shape));
    break;
  }
  if (i.kind != Initialiser::Kind::Constant && p.dtype != DType::F32 && p.dtype != DType::F64)
    fail(where + "a random initialiser needs a floating-point parameter, found " + p.typeString());
}

// Semantic checks shared by parseManifest and validateManifest.
void validate(const Manifest &m, const Locate &locate) {
  if (m.format != kManifestFormat)
    fail(locate("format") + "expected \"" + kManifestFormat + "\", found \"" + m.format + "\"");
  if (m.version != kManifestVersion)
    fail(locate("version") + "expected version " + std::to_string(kManifestVersion) + ", found " +
         std::to_string(m.version));
  if (m.target != "cpu" && m.target != "cuda")
    fail(locate("target") + "target '" + m.target +
         "' is not supported by this runtime (supported: cpu, cuda)");
  if (m.library.empty() || m.library == "." || m.library == ".." ||
      m.library.find('/') != std::string::npos || m.library.find('\0') != std::string::npos)
    fail(locate("library") + "expected a plain file name inside the artifact directory, found '" +
         m.library + "'");

  if (m.cpu) {
    if (m.cpu->name.empty())
      fail(locate("cpu.name") + "expected the name of the CPU the code was compiled for, found ''");
    std::set<std::string> seen;
    for (size_t i = 0; i < m.cpu->features.size(); ++i) {
      const std::string &f = m.cpu->features[i];
      std::string path = "cpu.features[" + std::to_string(i) + "]";
      if (!isKnownCpuFeature(f)) {
        std::string known;
        for (const std::string &k : knownCpuFeatures())
          known += (known.empty() ? "" : ", ") + k;
        fail(locate(path) + "unknown CPU feature '" + f + "' (this runtime knows: " + known + ")");
      }
      if (!seen.insert(f).second)
        fail(locate(path) + "duplicate CPU feature '" + f + "'");
    }
  }

  std::set<std::string> paramNames;
  for (size_t i = 0; i < m.parameters.size(); ++i) {
    const ParameterSpec &p = m.parameters[i];
    std::string path = "parameters[" + std::to_string(i) + "]";
    checkName(p.name, path, locate);
    if (!paramNames.insert(p.name).second)
      fail(locate(path + ".name") + "duplicate parameter name '" + p.name + "'");
    if (!checkedNumel(p.shape, dtypeSize(p.dtype)))
      fail(locate(path + ".shape") + "invalid shape " + shapeToString(p.shape));
    if (p.role.has_value() != p.init.has_value())
      fail(locate(path) + "a parameter has both a role and an initialiser, or neither");
    if (p.init)
      checkInitialiser(*p.init, p, locate(path + ".init"));
  }

  if (m.entryPoints.empty())
    fail(locate("entry_points") + "expected at least one entry point");
  std::set<std::string> entryNames, symbols;
  for (size_t e = 0; e < m.entryPoints.size(); ++e) {
    const EntryPoint &ep = m.entryPoints[e];
    std::string epath = "entry_points[" + std::to_string(e) + "]";
    checkName(ep.name, epath, locate);
    if (!entryNames.insert(ep.name).second)
      fail(locate(epath + ".name") + "duplicate entry point name '" + ep.name + "'");
    if (!isCIdentifier(ep.symbol))
      fail(locate(epath + ".symbol") + "expected a C identifier, found '" + ep.symbol + "'");
    if (!symbols.insert(ep.symbol).second)
      fail(locate(epath + ".symbol") + "duplicate symbol '" + ep.symbol + "'");
    std::set<std::string> bufferNames;
    auto checkBuffers = [&](const std::vector<BufferSpec> &list, const char *listName, bool isArg) {
      for (size_t i = 0; i < list.size(); ++i) {
        const BufferSpec &b = list[i];
        std::string path = epath + "." + listName + "[" + std::to_string(i) + "]";
        checkName(b.name, path, locate);
        if (!bufferNames.insert(b.name).second)
          fail(locate(path + ".name") + "entry point '" + ep.name + "' has two buffers named '" +
               b.name + "'");
        bool kindOk = isArg ? (b.kind == ArgKind::Input || b.kind == ArgKind::Parameter)
                            : (b.kind == ArgKind::Output || b.kind == ArgKind::Routing);
        if (!kindOk)
          fail(locate(path + ".kind") + "expected kind " +
               (isArg ? "input or parameter" : "output or routing") + " in " + listName +
               ", found " + argKindName(b.kind));
        if (!checkedNumel(b.shape, dtypeSize(b.dtype)))
          fail(locate(path + ".shape") + "invalid shape " + shapeToString(b.shape));
        if (b.kind == ArgKind::Parameter) {
          const TensorSpec *p = m.findParameter(b.name);
          if (!p)
            fail(locate(path) + "entry point '" + ep.name + "' argument '" + b.name +
                 "' has kind parameter but is not listed in parameters");
          if (p->shape != b.shape || p->dtype != b.dtype)
            fail(locate(path) + "entry point '" + ep.name + "' parameter argument '" + b.name +
                 "' is " + b.typeString() + " but parameters lists it as " + p->typeString());
        }
      }
    };
    checkBuffers(ep.arguments, "arguments", true);
    checkBuffers(ep.results, "results", false);
  }
}

// Reads JSON into a Manifest, checking field types; offsets[path] records
// where each path starts so validate() can point into the file.
class ManifestReader {
public:
  ManifestReader(const std::string &source) : source_(source) {}

  std::map<std::string, size_t> offsets;

  Manifest read(const JsonValue &root) {
    Manifest m;
    const auto &obj = object(root, "", {"format", "version", "target", "library", "model", "cpu",
                                        "head", "parameters", "entry_points"});
    (void)obj;
    m.format = str(member(root, "", "format"), "format");
    const JsonValue &version = member(root, "", "version");
    if (!version.isInt())
      typeError(version, "version", "an integer");
    m.version = version.intValue();
    m.target = str(member(root, "", "target"), "target");
    m.library = str(member(root, "", "library"), "library");
    m.model = str(member(root, "", "model"), "model");
    if (root.find("cpu")) {
      const JsonValue &cpu = member(root, "", "cpu");
      object(cpu, "cpu", {"name", "features"});
      TargetCpu t;
      t.name = str(member(cpu, "cpu", "name"), "cpu.name");
      const auto &features = array(member(cpu, "cpu", "features"), "cpu.features");
      for (size_t i = 0; i < features.size(); ++i) {
        std::string path = "cpu.features[" + std::to_string(i) + "]";
        offsets[path] = features[i].offset();
        t.features.push_back(str(features[i], path));
      }
      m.cpu = std::move(t);
    }
    if (const JsonValue *head = root.find("head"))
      m.head = readHeadSpec(JsonReader(source_), *head, "head");
    const auto &params = array(member(root, "", "parameters"), "parameters");
    for (size_t i = 0; i < params.size(); ++i) {
      std::string path = "parameters[" + std::to_string(i) + "]";
      object(params[i], path, {"name", "shape", "dtype", "role", "init"});
      ParameterSpec p;
      readTensor(params[i], path, p);
      readRole(params[i], path, p);
      m.parameters.push_back(std::move(p));
    }
    const auto &entries = array(member(root, "", "entry_points"), "entry_points");
    for (size_t e = 0; e < entries.size(); ++e) {
      std::string epath = "entry_points[" + std::to_string(e) + "]";
      object(entries[e], epath, {"name", "symbol", "arguments", "results"});
      EntryPoint ep;
      ep.name = str(member(entries[e], epath, "name"), epath + ".name");
      ep.symbol = str(member(entries[e], epath, "symbol"), epath + ".symbol");
      for (const char *listName : {"arguments", "results"}) {
        std::string lpath = epath + "." + listName;
        const auto &list = array(member(entries[e], epath, listName), lpath);
        for (size_t i = 0; i < list.size(); ++i) {
          std::string path = lpath + "[" + std::to_string(i) + "]";
          object(list[i], path, {"name", "kind", "shape", "dtype"});
          BufferSpec b;
          readTensor(list[i], path, b);
          const JsonValue &kindV = member(list[i], path, "kind");
          std::string kind = str(kindV, path + ".kind");
          if (kind == "input")
            b.kind = ArgKind::Input;
          else if (kind == "parameter")
            b.kind = ArgKind::Parameter;
          else if (kind == "output")
            b.kind = ArgKind::Output;
          else if (kind == "routing")
            b.kind = ArgKind::Routing;
          else
            fail(prefix(kindV.offset(), path + ".kind") +
                 "expected one of input, parameter, output, routing, found '" + kind + "'");
          (std::string(listName) == "arguments" ? ep.arguments : ep.results).push_back(std::move(b));
        }
      }
      m.entryPoints.push_back(std::move(ep));
    }
    return m;
  }

  std::string prefix(size_t offset, const std::string &path) const {
    return source_ + ": byte " + std::to_string(offset) + ": " + (path.empty() ? "" : path + ": ");
  }

private:
  [[noreturn]] void typeError(const JsonValue &v, const std::string &path, const char *expected) {
    fail(prefix(v.offset(), path) + "expected " + expected + ", found " + jsonKindName(v.kind()));
  }

  const JsonValue::Object &object(const JsonValue &v, const std::string &path,
                                  std::initializer_list<const char *> allowed) {
    offsets[path] = v.offset();
    const JsonValue::Object *obj = v.getObject();
    if (!obj)
      typeError(v, path, "an object");
    for (const auto &[k, val] : *obj) {
      bool known = false;
      for (const char *a : allowed)
        known |= (k == a);
      if (!known) {
        std::string list;
        for (const char *a : allowed)
          list += std::string(list.empty() ? "" : ", ") + a;
        fail(prefix(val.offset(), path) + "unknown key '" + k + "' (expected " + list + ")");
      }
    }
    return *obj;
  }

  const JsonValue &member(const JsonValue &obj, const std::string &path, const char *key) {
    const JsonValue *v = obj.find(key);
    if (!v)
      fail(prefix(obj.offset(), path) + "missing key '" + key + "'");
    offsets[path.empty() ? key : path + "." + key] = v->offset();
    return *v;
  }

  std::string str(const JsonValue &v, const std::string &path) {
    if (!v.isString())
      typeError(v, path, "a string");
    return *v.getString();
  }

  const JsonValue::Array &array(const JsonValue &v, const std::string &path) {
    if (!v.isArray())
      typeError(v, path, "an array");
    return *v.getArray();
  }

  void readRole(const JsonValue &v, const std::string &path, ParameterSpec &p) {
    if (const JsonValue *role = v.find("role")) {
      std::string name = str(member(v, path, "role"), path + ".role");
      p.role = parseParamRole(name);
      if (!p.role) {
        std::string known;
        for (const std::string &r : paramRoleNames())
          known += (known.empty() ? "" : ", ") + r;
        fail(prefix(role->offset(), path + ".role") + "unknown role '" + name + "' (expected one of " + known + ")");
      }
    }
    if (!v.find("init"))
      return;
    std::string ipath = path + ".init";
    const JsonValue &init = member(v, path, "init");
    object(init, ipath, {"kind", "value", "fan_in"});
    const JsonValue &kindV = member(init, ipath, "kind");
    std::string kind = str(kindV, ipath + ".kind");
    auto k = parseInitialiserKind(kind);
    if (!k)
      fail(prefix(kindV.offset(), ipath + ".kind") +
           "expected one of constant, he_normal, unit_rows, identity_blocks, found '" + kind + "'");
    Initialiser i;
    i.kind = *k;
    if (i.kind == Initialiser::Kind::Constant) {
      const JsonValue &value = member(init, ipath, "value");
      if (!value.isNumber())
        typeError(value, ipath + ".value", "a number");
      i.value = value.numberValue();
    }
    if (i.kind == Initialiser::Kind::HeNormal) {
      const JsonValue &fanIn = member(init, ipath, "fan_in");
      if (!fanIn.isInt())
        typeError(fanIn, ipath + ".fan_in", "an integer");
      i.fanIn = fanIn.intValue();
    }
    p.init = i;
  }

  void readTensor(const JsonValue &v, const std::string &path, TensorSpec &t) {
    t.name = str(member(v, path, "name"), path + ".name");
    const JsonValue &shape = member(v, path, "shape");
    const auto &dims = array(shape, path + ".shape");
    for (size_t i = 0; i < dims.size(); ++i) {
      if (!dims[i].isInt() || dims[i].intValue() < 0)
        fail(prefix(dims[i].offset(), path + ".shape[" + std::to_string(i) + "]") +
             "expected a non-negative integer dimension");
      t.shape.push_back(dims[i].intValue());
    }
    const JsonValue &dtypeV = member(v, path, "dtype");
    std::string dtype = str(dtypeV, path + ".dtype");
    auto d = dtypeFromName(dtype);
    if (!d)
      fail(prefix(dtypeV.offset(), path + ".dtype") +
           "expected one of f32, f64, i64, i32, u8, found '" + dtype + "'");
    t.dtype = *d;
  }

  const std::string &source_;
};

Manifest parseOrThrow(std::string_view text, const std::string &source) {
  auto json = parseJson(text, source);
  if (!json)
    fail(json.error());
  ManifestReader reader(source);
  Manifest m = reader.read(*json);
  validate(m, [&](const std::string &path) {
    // Point at the value itself, or its closest recorded ancestor.
    std::string p = path;
    while (true) {
      auto it = reader.offsets.find(p);
      if (it != reader.offsets.end())
        return reader.prefix(it->second, path);
      size_t cut = p.find_last_of(".[");
      if (cut == std::string::npos || p.empty())
        return reader.prefix(0, path);
      p = p.substr(0, cut);
    }
  });
  return m;
}

} // namespace

Expected<Manifest> parseManifest(std::string_view text, const std::string &source) {
  return detail::guard<Manifest>([&] { return parseOrThrow(text, source); });
}

Expected<Manifest> readManifest(const std::string &path) {
  return detail::guard<Manifest>([&] { return parseOrThrow(detail::readWholeFile(path), path); });
}

Status validateManifest(const Manifest &manifest) {
  return detail::guardStatus([&] {
    validate(manifest, [](const std::string &path) { return "manifest: " + path + ": "; });
  });
}

Expected<std::string> writeManifestText(const Manifest &m) {
  return detail::guard<std::string>([&] {
    Status s = validateManifest(m);
    if (!s)
      fail(s.message());
    auto tensor = [](const TensorSpec &t, const ArgKind *kind) {
      JsonValue shape = JsonValue::array();
      for (int64_t d : t.shape)
        shape.push(JsonValue::integer(d));
      JsonValue o = JsonValue::object();
      o.set("name", JsonValue::string(t.name));
      if (kind)
        o.set("kind", JsonValue::string(argKindName(*kind)));
      o.set("shape", std::move(shape));
      o.set("dtype", JsonValue::string(dtypeName(t.dtype)));
      return o;
    };
    JsonValue root = JsonValue::object();
    root.set("format", JsonValue::string(m.format));
    root.set("version", JsonValue::integer(m.version));
    root.set("target", JsonValue::string(m.target));
    root.set("library", JsonValue::string(m.library));
    root.set("model", JsonValue::string(m.model));
    if (m.cpu) {
      JsonValue features = JsonValue::array();
      for (const std::string &f : m.cpu->features)
        features.push(JsonValue::string(f));
      JsonValue cpu = JsonValue::object();
      cpu.set("name", JsonValue::string(m.cpu->name));
      cpu.set("features", std::move(features));
      root.set("cpu", std::move(cpu));
    }
    if (m.head)
      root.set("head", headSpecJson(*m.head));
    JsonValue params = JsonValue::array();
    for (const auto &p : m.parameters) {
      JsonValue o = tensor(p, nullptr);
      if (p.role)
        o.set("role", JsonValue::string(paramRoleName(*p.role)));
      if (p.init) {
        JsonValue init = JsonValue::object();
        init.set("kind", JsonValue::string(initialiserKindName(p.init->kind)));
        if (p.init->kind == Initialiser::Kind::Constant)
          init.set("value", JsonValue::number(p.init->value));
        if (p.init->kind == Initialiser::Kind::HeNormal)
          init.set("fan_in", JsonValue::integer(p.init->fanIn));
        o.set("init", std::move(init));
      }
      params.push(std::move(o));
    }
    root.set("parameters", std::move(params));
    JsonValue entries = JsonValue::array();
    for (const auto &ep : m.entryPoints) {
      JsonValue e = JsonValue::object();
      e.set("name", JsonValue::string(ep.name));
      e.set("symbol", JsonValue::string(ep.symbol));
      JsonValue args = JsonValue::array(), results = JsonValue::array();
      for (const auto &a : ep.arguments)
        args.push(tensor(a, &a.kind));
      for (const auto &r : ep.results)
        results.push(tensor(r, &r.kind));
      e.set("arguments", std::move(args));
      e.set("results", std::move(results));
      entries.push(std::move(e));
    }
    root.set("entry_points", std::move(entries));
    return writeJson(root, 2) + "\n";
  });
}

} // namespace pce::rt
