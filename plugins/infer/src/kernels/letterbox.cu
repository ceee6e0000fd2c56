// SPDX-License-Identifier: MIT OR Apache-2.0
// courtvision's letterbox kernel: one frame in device memory (packed RGB/BGR/RGBA/BGRx, or YUV
// 4:2:0 as I420 or NV12, at any pitch) straight into its slot of the model's input batch
// (float32 or float16 NCHW), in one pass. It computes what the CPU path does
// (plugins/infer/src/preprocess.rs): ultralytics' letterbox (aspect kept, bilinear with half-pixel
// centres, grey 114 border), chroma repeated over its 2x2 block, interpolation in the frame's own
// channels, then YUV -> RGB with the given coefficients, clamp to 0..255, / 255.
//
// Compiled to PTX by make_ptx.py (NVRTC from PyPI); the CUDA driver JIT-compiles the PTX for the
// GPU it runs on. No headers: the float16 conversion is one PTX instruction.

// One bilinear axis, as preprocess.rs's taps(): first index, second index, weight of the second.
__device__ __forceinline__ void tap(int i, int src, int dst, int* i0, int* i1, float* w) {
    double f = ((double)i + 0.5) * ((double)src / (double)dst) - 0.5;
    double fl = floor(f);
    double wd = f - fl;
    if (fl < 0.0) {
        fl = 0.0;
        wd = 0.0;
    }
    int a = (int)fl;
    if (a >= src - 1) {
        a = src - 1;
        wd = 0.0;
    }
    *i0 = a;
    *i1 = min(a + 1, src - 1);
    *w = (float)wd;
}

__device__ __forceinline__ void store(void* out, int half, long idx, float v) {
    if (half) {
        unsigned short h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
        ((unsigned short*)out)[idx] = h;
    } else {
        ((float*)out)[idx] = v;
    }
}

// kind 0: packed, p0 at pitch s0, `step` bytes per pixel, R, G, B at byte offsets o0, o1, o2.
// kind 1: YUV 4:2:0, Y in p0 (pitch s0), U in p1 (pitch s1), V in p2 (pitch s2), `step` bytes
//         between chroma samples (1 for I420, 2 for NV12 with p2 = p1 + 1).
// c: YUV -> RGB coefficients (y scale, y offset, uv scale, r_v, g_u, g_v, b_u).
// out: the slot, 3 planes of dst_w x dst_h; half: float16 instead of float32.
extern "C" __global__ void letterbox(
    const unsigned char* __restrict__ p0, int s0,
    const unsigned char* __restrict__ p1, int s1,
    const unsigned char* __restrict__ p2, int s2,
    int kind, int step, int o0, int o1, int o2,
    int src_w, int src_h, int new_w, int new_h, int dst_w, int dst_h, int left, int top,
    float c0, float c1, float c2, float c3, float c4, float c5, float c6,
    void* out, int half)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= dst_w || y >= dst_h) {
        return;
    }
    long plane = (long)dst_w * dst_h;
    long at = (long)y * dst_w + x;
    int fx = x - left, fy = y - top;
    if (fx < 0 || fx >= new_w || fy < 0 || fy >= new_h) {
        float pad = 114.0f * (1.0f / 255.0f);
        store(out, half, at, pad);
        store(out, half, plane + at, pad);
        store(out, half, 2 * plane + at, pad);
        return;
    }
    int x0, x1, y0, y1;
    float wx, wy;
    tap(fx, src_w, new_w, &x0, &x1, &wx);
    tap(fy, src_h, new_h, &y0, &y1, &wy);
    int xs[4] = {x0, x1, x0, x1};
    int ys[4] = {y0, y0, y1, y1};
    float v[4][3];
    for (int k = 0; k < 4; k++) {
        int px = xs[k], py = ys[k];
        if (kind == 0) {
            const unsigned char* p = p0 + (long)py * s0 + (long)px * step;
            v[k][0] = p[o0];
            v[k][1] = p[o1];
            v[k][2] = p[o2];
        } else {
            long c = (long)(px / 2) * step;
            v[k][0] = p0[(long)py * s0 + px];
            v[k][1] = p1[(long)(py / 2) * s1 + c];
            v[k][2] = p2[(long)(py / 2) * s2 + c];
        }
    }
    float r[3];
    for (int ch = 0; ch < 3; ch++) {
        float t = v[0][ch] + (v[1][ch] - v[0][ch]) * wx;
        float b = v[2][ch] + (v[3][ch] - v[2][ch]) * wx;
        r[ch] = t + (b - t) * wy;
    }
    if (kind == 1) {
        float yy = (r[0] - c1) * c0;
        float u = (r[1] - 128.0f) * c2;
        float vv = (r[2] - 128.0f) * c2;
        r[0] = fminf(fmaxf(yy + c3 * vv, 0.0f), 255.0f);
        r[1] = fminf(fmaxf(yy + c4 * u + c5 * vv, 0.0f), 255.0f);
        r[2] = fminf(fmaxf(yy + c6 * u, 0.0f), 255.0f);
    }
    float inv = 1.0f / 255.0f;
    store(out, half, at, r[0] * inv);
    store(out, half, plane + at, r[1] * inv);
    store(out, half, 2 * plane + at, r[2] * inv);
}
