#!/usr/bin/env python3
# SPDX-License-Identifier: MIT OR Apache-2.0
"""Compiles the CUDA kernels in this folder to PTX with NVRTC, the CUDA runtime compiler from
PyPI (no CUDA toolkit needed, no GPU either):

    python3 -m pip install nvidia-cuda-nvrtc-cu12==12.9.86
    python3 plugins/infer/src/kernels/make_ptx.py            # rewrites letterbox.ptx
    python3 plugins/infer/src/kernels/make_ptx.py --check    # fails if letterbox.ptx is stale

The PTX is committed (courtvision-infer embeds it; the CUDA driver JIT-compiles it for the GPU
it runs on), so building courtvision needs neither NVRTC nor CUDA.
"""
import ctypes
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# compute_75: the oldest target CUDA 13 still builds for; the driver compiles it for newer GPUs.
OPTIONS = [b"--gpu-architecture=compute_75", b"--fmad=false", b"-default-device"]


def nvrtc():
    import nvidia.cuda_nvrtc as pkg  # the nvidia-cuda-nvrtc-cu12 wheel

    base = os.path.dirname(pkg.__file__) if pkg.__file__ else list(pkg.__path__)[0]
    libs = sorted(glob.glob(os.path.join(base, "lib", "libnvrtc.so.*")))
    if not libs:
        sys.exit(f"no libnvrtc.so.* under {base}/lib")
    return ctypes.CDLL(libs[0])


def compile_ptx(lib, path):
    src = open(path, "rb").read()
    prog = ctypes.c_void_p()
    name = os.path.basename(path).encode()

    def check(r, what):
        if r != 0:
            lib.nvrtcGetErrorString.restype = ctypes.c_char_p
            sys.exit(f"{what}: {lib.nvrtcGetErrorString(r).decode()}")

    check(lib.nvrtcCreateProgram(ctypes.byref(prog), src, name, 0, None, None), "nvrtcCreateProgram")
    opts = (ctypes.c_char_p * len(OPTIONS))(*OPTIONS)
    r = lib.nvrtcCompileProgram(prog, len(OPTIONS), opts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    if r != 0:
        sys.exit(f"{path}:\n{log.value.decode()}")
    lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
    ptx = ctypes.create_string_buffer(size.value)
    check(lib.nvrtcGetPTX(prog, ptx), "nvrtcGetPTX")
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return ptx.value


def main():
    check_only = "--check" in sys.argv[1:]
    lib = nvrtc()
    stale = []
    for cu in sorted(glob.glob(os.path.join(HERE, "*.cu"))):
        ptx = compile_ptx(lib, cu)
        out = cu[:-3] + ".ptx"
        old = open(out, "rb").read() if os.path.exists(out) else None
        if check_only:
            if old != ptx:
                stale.append(out)
        elif old != ptx:
            open(out, "wb").write(ptx)
            print(f"wrote {out}")
    if stale:
        sys.exit("stale PTX (run make_ptx.py): " + ", ".join(stale))


if __name__ == "__main__":
    main()
