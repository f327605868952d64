"""cuda_torch: a CUDA LibTorch (from a PyTorch install) and the CUDA runtime,
for `bazel build --config=cuda` (issue 9).

Location: $PEFTSEARCH_CUDA_TORCH (the `torch` folder of a PyTorch install,
holding include/ and lib/), else the first match of
/opt/torch/.venv/lib/python3*/site-packages/torch. The CUDA Toolkit is
$CUDA_HOME (default /usr/local/cuda). When neither LibTorch is found, the
repository still loads, and building anything that links it fails with a
message saying where it looked; so CPU builds never need it.
"""

def _cuda_torch_impl(rctx):
    path = rctx.os.environ.get("PEFTSEARCH_CUDA_TORCH", "")
    if not path:
        found = rctx.execute(["/bin/sh", "-c", "ls -d /opt/torch/.venv/lib/python3*/site-packages/torch 2>/dev/null | head -n 1"])
        path = found.stdout.strip()
    cuda = rctx.os.environ.get("CUDA_HOME", "/usr/local/cuda")
    if not path or not rctx.path(path + "/include").exists or not rctx.path(path + "/lib/libtorch_cuda.so").exists:
        rctx.file("BUILD", """
genrule(
    name = "missing",
    outs = ["missing.h"],
    cmd = "echo 'cuda_torch: no CUDA LibTorch (lib/libtorch_cuda.so) at \\"{path}\\"; set PEFTSEARCH_CUDA_TORCH to the torch folder of a PyTorch install' >&2; exit 1",
)

cc_library(
    name = "torch",
    hdrs = [":missing.h"],
    visibility = ["//visibility:public"],
)
""".format(path = path or "/opt/torch/.venv/lib/python3*/site-packages/torch"))
        return
    rctx.symlink(path + "/include", "include")
    rctx.symlink(cuda + "/include", "cuda_include")
    rctx.file("BUILD", """
cc_library(
    name = "torch",
    hdrs = glob(["include/**/*.h", "include/**/*.cuh", "cuda_include/**/*.h", "cuda_include/**/*.hpp"]),
    includes = ["include", "include/torch/csrc/api/include", "cuda_include"],
    linkopts = [
        "-L{lib}",
        "-Wl,-rpath,{lib}",
        "-Wl,--no-as-needed",
        "-ltorch_cuda",
        "-lc10_cuda",
        "-Wl,--as-needed",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        "-L{cuda}/lib64",
        "-Wl,-rpath,{cuda}/lib64",
        "-lcudart",
        "-lpthread",
    ],
    visibility = ["//visibility:public"],
)
""".format(lib = path + "/lib", cuda = cuda))

cuda_torch_repository = repository_rule(
    implementation = _cuda_torch_impl,
    environ = ["PEFTSEARCH_CUDA_TORCH", "CUDA_HOME"],
    local = True,
)
