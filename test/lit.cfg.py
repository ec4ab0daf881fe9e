# -*- Python -*-
# lit configuration for the PCE suites.
import os
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "PCE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.pce_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit",
                   "runtime", "reference", "Inputs"]
config.suffixes = [".mlir"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%pce_src_root", config.pce_src_root))
# The Python that runs lit, for checks written as one-line scripts.
config.substitutions.append(("%python", sys.executable))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# Our tools first, then FileCheck & co. from LLVM.
tool_dirs = [config.pce_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["pce-opt", "pce-translate", "pce-compile", "pce-run"], tool_dirs)
llvm_config.with_environment("PATH", config.pce_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# Tools built only with LibTorch (test/Tools/command-line-torch-tools.mlir).
for _tool in ("pce-train", "pce-bench"):
    if os.access(os.path.join(config.pce_tools_dir, _tool), os.X_OK):
        config.available_features.add(_tool)

# GPU tests (test/GPU): `REQUIRES: ptxas` where PTX is assembled; %ptxas is
# the assembler (PATH first, then the CUDA toolkit's default place).
import shutil
_ptxas = shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas" if os.access("/usr/local/cuda/bin/ptxas", os.X_OK) else None)
if _ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", _ptxas))
    llvm_config.with_environment("PATH", os.path.dirname(_ptxas), append_path=True)

# test/GPU/emulate-on-cpu.mlir runs code with mlir-runner and its utility
# libraries (printMemrefF32): `REQUIRES: mlir-runner`, %mlir_runner_libs.
_runner_libs = [os.path.normpath(os.path.join(config.llvm_tools_dir, "..", "lib", name))
                for name in ("libmlir_runner_utils.so", "libmlir_c_runner_utils.so")]
if shutil.which("mlir-runner", path=config.llvm_tools_dir) and all(map(os.path.exists, _runner_libs)):
    config.available_features.add("mlir-runner")
    config.substitutions.append(("%mlir_runner_libs", ",".join(_runner_libs)))

# The routing report's browser test (test/Tools/pce-run-report-browser.mlir):
# `REQUIRES: chromium`, %chromium is the browser.
_chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if _chromium:
    config.available_features.add("chromium")
    config.substitutions.append(("%chromium", _chromium))
