// SPDX-License-Identifier: MIT OR Apache-2.0
//! The few CUDA driver calls that frames already on the GPU need (decoder output in device
//! memory, letterboxed straight into the model's input batch, or copied device to device into
//! a batch): the device's primary context, which ONNX Runtime's CUDA provider runs in, a stream
//! of our own, pitched 2-D copies (also from another context on the device) and the letterbox
//! kernel.
//!
//! Loaded at run time from `libcuda.so.1` with libloading, so nothing links against CUDA and
//! hosts without a driver (CI) build and run the rest unchanged: [`driver`] is then an error.
//! Written by hand: cudarc covers the driver API, but its bindings are chosen for one CUDA
//! version at build time (the GPU host runs CUDA 13, CI has no CUDA); eighteen calls whose ABI
//! has not changed since CUDA 11 make a smaller, version-independent table.
//!
//! The letterbox kernel (`kernels/letterbox.cu`, compiled to PTX by `kernels/make_ptx.py` with
//! NVRTC and committed) is loaded from its PTX, which the driver compiles for the GPU at hand.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::sync::OnceLock;

/// `CUcontext`, `CUstream`: opaque driver handles.
pub type Handle = *mut c_void;

type CuResult = c_int;

/// `CUDA_MEMCPY2D` of the driver API (v2 layout).
#[repr(C)]
struct Memcpy2d {
    src_x_in_bytes: usize,
    src_y: usize,
    src_memory_type: c_uint,
    src_host: *const c_void,
    src_device: u64,
    src_array: *mut c_void,
    src_pitch: usize,
    dst_x_in_bytes: usize,
    dst_y: usize,
    dst_memory_type: c_uint,
    dst_host: *mut c_void,
    dst_device: u64,
    dst_array: *mut c_void,
    dst_pitch: usize,
    width_in_bytes: usize,
    height: usize,
}

/// `CUDA_MEMCPY3D_PEER` of the driver API: a copy between two contexts.
#[repr(C)]
struct Memcpy3dPeer {
    src_x_in_bytes: usize,
    src_y: usize,
    src_z: usize,
    src_lod: usize,
    src_memory_type: c_uint,
    src_host: *const c_void,
    src_device: u64,
    src_array: *mut c_void,
    src_context: Handle,
    src_pitch: usize,
    src_height: usize,
    dst_x_in_bytes: usize,
    dst_y: usize,
    dst_z: usize,
    dst_lod: usize,
    dst_memory_type: c_uint,
    dst_host: *mut c_void,
    dst_device: u64,
    dst_array: *mut c_void,
    dst_context: Handle,
    dst_pitch: usize,
    dst_height: usize,
    width_in_bytes: usize,
    height: usize,
    depth: usize,
}

const CU_MEMORYTYPE_DEVICE: c_uint = 2;
const CU_STREAM_NON_BLOCKING: c_uint = 1;

/// The loaded driver entry points.
pub struct Driver {
    init: unsafe extern "C" fn(c_uint) -> CuResult,
    device_get: unsafe extern "C" fn(*mut c_int, c_int) -> CuResult,
    primary_ctx_retain: unsafe extern "C" fn(*mut Handle, c_int) -> CuResult,
    primary_ctx_set_flags: unsafe extern "C" fn(c_int, c_uint) -> CuResult,
    primary_ctx_get_state: unsafe extern "C" fn(c_int, *mut c_uint, *mut c_int) -> CuResult,
    ctx_push: unsafe extern "C" fn(Handle) -> CuResult,
    ctx_pop: unsafe extern "C" fn(*mut Handle) -> CuResult,
    stream_create: unsafe extern "C" fn(*mut Handle, c_uint) -> CuResult,
    stream_synchronize: unsafe extern "C" fn(Handle) -> CuResult,
    memcpy_2d_async: unsafe extern "C" fn(*const Memcpy2d, Handle) -> CuResult,
    memcpy_3d_peer_async: unsafe extern "C" fn(*const Memcpy3dPeer, Handle) -> CuResult,
    memcpy_async: unsafe extern "C" fn(u64, u64, usize, Handle) -> CuResult,
    module_load_data: unsafe extern "C" fn(*mut Handle, *const c_void) -> CuResult,
    module_get_function: unsafe extern "C" fn(*mut Handle, Handle, *const c_char) -> CuResult,
    #[allow(clippy::type_complexity)]
    launch_kernel: unsafe extern "C" fn(
        Handle,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        c_uint,
        Handle,
        *mut *mut c_void,
        *mut *mut c_void,
    ) -> CuResult,
    mem_alloc: unsafe extern "C" fn(*mut u64, usize) -> CuResult,
    mem_free: unsafe extern "C" fn(u64) -> CuResult,
    error_name: unsafe extern "C" fn(CuResult, *mut *const c_char) -> CuResult,
    _lib: libloading::Library,
}

// SAFETY: the driver API is thread-safe; the struct only holds function pointers and the
// library that keeps them valid.
unsafe impl Send for Driver {}
unsafe impl Sync for Driver {}

/// The CUDA driver, loaded (and `cuInit` called) once per process.
pub fn driver() -> Result<&'static Driver, String> {
    static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();
    DRIVER
        .get_or_init(Driver::load)
        .as_ref()
        .map_err(Clone::clone)
}

impl Driver {
    fn load() -> Result<Driver, String> {
        // SAFETY: libcuda.so.1 is the CUDA driver library; its initialisers are safe to run.
        let lib = unsafe { libloading::Library::new("libcuda.so.1") }
            .map_err(|e| format!("no CUDA driver (libcuda.so.1): {e}"))?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the symbol has the signature of the field it is stored in (CUDA
                // driver API, cuda.h).
                *unsafe { lib.get($name) }.map_err(|e| {
                    format!(
                        "CUDA driver lacks {}: {e}",
                        String::from_utf8_lossy(&$name[..$name.len() - 1])
                    )
                })?
            };
        }
        let d = Driver {
            init: sym!(b"cuInit\0"),
            device_get: sym!(b"cuDeviceGet\0"),
            primary_ctx_retain: sym!(b"cuDevicePrimaryCtxRetain\0"),
            primary_ctx_set_flags: sym!(b"cuDevicePrimaryCtxSetFlags_v2\0"),
            primary_ctx_get_state: sym!(b"cuDevicePrimaryCtxGetState\0"),
            ctx_push: sym!(b"cuCtxPushCurrent_v2\0"),
            ctx_pop: sym!(b"cuCtxPopCurrent_v2\0"),
            stream_create: sym!(b"cuStreamCreate\0"),
            stream_synchronize: sym!(b"cuStreamSynchronize\0"),
            memcpy_2d_async: sym!(b"cuMemcpy2DAsync_v2\0"),
            memcpy_3d_peer_async: sym!(b"cuMemcpy3DPeerAsync\0"),
            memcpy_async: sym!(b"cuMemcpyAsync\0"),
            module_load_data: sym!(b"cuModuleLoadData\0"),
            module_get_function: sym!(b"cuModuleGetFunction\0"),
            launch_kernel: sym!(b"cuLaunchKernel\0"),
            mem_alloc: sym!(b"cuMemAlloc_v2\0"),
            mem_free: sym!(b"cuMemFree_v2\0"),
            error_name: sym!(b"cuGetErrorName\0"),
            _lib: lib,
        };
        // SAFETY: plain driver call.
        d.check("cuInit", unsafe { (d.init)(0) })?;
        Ok(d)
    }

    fn check(&self, what: &str, r: CuResult) -> Result<(), String> {
        if r == 0 {
            return Ok(());
        }
        let mut name: *const c_char = std::ptr::null();
        // SAFETY: cuGetErrorName writes a pointer to a static string (or leaves it null).
        unsafe { (self.error_name)(r, &mut name) };
        let name = if name.is_null() {
            format!("error {r}")
        } else {
            // SAFETY: non-null, NUL-terminated, static.
            unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned()
        };
        Err(format!("{what} failed: {name}"))
    }

    /// The primary context of device `ordinal` (retained for the life of the process, as ONNX
    /// Runtime's CUDA provider also holds it) and the device handle.
    fn primary_context(&self, ordinal: i32) -> Result<(Handle, i32), String> {
        let mut dev = 0;
        // SAFETY: out-pointers to locals.
        self.check("cuDeviceGet", unsafe {
            (self.device_get)(&mut dev, ordinal)
        })?;
        let mut ctx = std::ptr::null_mut();
        self.check("cuDevicePrimaryCtxRetain", unsafe {
            (self.primary_ctx_retain)(&mut ctx, dev)
        })?;
        Ok((ctx, dev))
    }

    /// Runs `f` with `ctx` current on this thread (pushed, then popped).
    fn with_context<T>(
        &self,
        ctx: Handle,
        f: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        // SAFETY: ctx is a live context from primary_context().
        self.check("cuCtxPushCurrent", unsafe { (self.ctx_push)(ctx) })?;
        let out = f();
        let mut popped = std::ptr::null_mut();
        // SAFETY: pops what was pushed above.
        let pop = self.check("cuCtxPopCurrent", unsafe { (self.ctx_pop)(&mut popped) });
        let out = out?;
        pop.map(|_| out)
    }

    /// A non-blocking stream in the current context.
    fn stream(&self) -> Result<Handle, String> {
        let mut s = std::ptr::null_mut();
        // SAFETY: out-pointer to a local.
        self.check("cuStreamCreate", unsafe {
            (self.stream_create)(&mut s, CU_STREAM_NON_BLOCKING)
        })?;
        Ok(s)
    }

    /// Queues a pitched device-to-device copy of `rows` rows of `row_bytes` on `stream`.
    ///
    /// # Safety
    /// Both ranges must be device memory of the current context, `src` readable and `dst`
    /// writable for `rows` rows at their pitches, until the stream is synchronised.
    unsafe fn copy_2d(
        &self,
        stream: Handle,
        (dst, dst_pitch): (u64, usize),
        (src, src_pitch): (u64, usize),
        row_bytes: usize,
        rows: usize,
    ) -> Result<(), String> {
        let p = Memcpy2d {
            src_x_in_bytes: 0,
            src_y: 0,
            src_memory_type: CU_MEMORYTYPE_DEVICE,
            src_host: std::ptr::null(),
            src_device: src,
            src_array: std::ptr::null_mut(),
            src_pitch,
            dst_x_in_bytes: 0,
            dst_y: 0,
            dst_memory_type: CU_MEMORYTYPE_DEVICE,
            dst_host: std::ptr::null_mut(),
            dst_device: dst,
            dst_array: std::ptr::null_mut(),
            dst_pitch,
            width_in_bytes: row_bytes,
            height: rows,
        };
        self.check("cuMemcpy2DAsync", unsafe {
            (self.memcpy_2d_async)(&p, stream)
        })
    }

    /// Queues a pitched copy of `rows` rows of `row_bytes` from device memory of context
    /// `src_ctx` to device memory of context `dst_ctx` (the same device) on `stream`.
    ///
    /// # Safety
    /// As [`Driver::copy_2d`], each range in its context.
    unsafe fn copy_2d_peer(
        &self,
        stream: Handle,
        (dst, dst_pitch, dst_ctx): (u64, usize, Handle),
        (src, src_pitch, src_ctx): (u64, usize, Handle),
        row_bytes: usize,
        rows: usize,
    ) -> Result<(), String> {
        let p = Memcpy3dPeer {
            src_x_in_bytes: 0,
            src_y: 0,
            src_z: 0,
            src_lod: 0,
            src_memory_type: CU_MEMORYTYPE_DEVICE,
            src_host: std::ptr::null(),
            src_device: src,
            src_array: std::ptr::null_mut(),
            src_context: src_ctx,
            src_pitch,
            src_height: rows,
            dst_x_in_bytes: 0,
            dst_y: 0,
            dst_z: 0,
            dst_lod: 0,
            dst_memory_type: CU_MEMORYTYPE_DEVICE,
            dst_host: std::ptr::null_mut(),
            dst_device: dst,
            dst_array: std::ptr::null_mut(),
            dst_context: dst_ctx,
            dst_pitch,
            dst_height: rows,
            width_in_bytes: row_bytes,
            height: rows,
            depth: 1,
        };
        self.check("cuMemcpy3DPeerAsync", unsafe {
            (self.memcpy_3d_peer_async)(&p, stream)
        })
    }

    /// Waits for everything queued on `stream`.
    fn synchronize(&self, stream: Handle) -> Result<(), String> {
        // SAFETY: a stream from stream().
        self.check("cuStreamSynchronize", unsafe {
            (self.stream_synchronize)(stream)
        })
    }
}

/// How a thread waiting for the GPU (a stream synchronisation) waits: the scheduling flags of
/// the device's primary context, shared by ONNX Runtime, the decoders and the copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The driver's choice: spin while the process has no more contexts than cores.
    Auto = 0,
    Spin = 1,
    Yield = 2,
    /// Sleep on a synchronisation primitive until the GPU signals.
    Blocking = 4,
}

impl std::str::FromStr for SyncMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => SyncMode::Auto,
            "spin" => SyncMode::Spin,
            "yield" => SyncMode::Yield,
            "blocking" => SyncMode::Blocking,
            other => {
                return Err(format!(
                    "unknown CUDA sync mode '{other}' (auto, spin, yield, blocking)"
                ))
            }
        })
    }
}

/// Sets how threads wait for device `ordinal` (its primary context's scheduling flags, before
/// ONNX Runtime makes it current); returns the flags the context then has.
pub fn set_sync_mode(ordinal: i32, mode: SyncMode) -> Result<u32, String> {
    let d = driver()?;
    let mut dev = 0;
    // SAFETY: out-pointer to a local.
    d.check("cuDeviceGet", unsafe { (d.device_get)(&mut dev, ordinal) })?;
    // SAFETY: plain driver call on a valid device.
    d.check("cuDevicePrimaryCtxSetFlags", unsafe {
        (d.primary_ctx_set_flags)(dev, mode as c_uint)
    })?;
    let (mut flags, mut active) = (0, 0);
    // SAFETY: out-pointers to locals.
    d.check("cuDevicePrimaryCtxGetState", unsafe {
        (d.primary_ctx_get_state)(dev, &mut flags, &mut active)
    })?;
    Ok(flags)
}

/// A frame in device memory: each plane's address and pitch (plane order as in
/// [`crate::FrameView`]).
#[derive(Debug, Clone, Copy)]
pub struct DeviceFrame {
    pub format: crate::PixelFormat,
    pub width: usize,
    pub height: usize,
    pub planes: [u64; 3],
    pub strides: [usize; 3],
    /// The CUDA context the planes belong to; null: the copier's own.
    pub context: Handle,
}

/// Copies frames into device batches, and device buffers into each other: the primary context
/// of one device and a stream in it.
pub struct FrameCopier {
    driver: &'static Driver,
    context: Handle,
    device: i32,
    stream: Handle,
    /// The letterbox kernel in this context, loaded on first use.
    kernel: OnceLock<Result<KernelHandle, String>>,
}

/// A `CUfunction` (valid for the life of the process: its module is never unloaded).
#[derive(Clone, Copy)]
struct KernelHandle(Handle);

// SAFETY: a CUfunction is a driver handle, usable from any thread.
unsafe impl Send for KernelHandle {}
unsafe impl Sync for KernelHandle {}

/// The PTX of `kernels/letterbox.cu`.
const LETTERBOX_PTX: &str = concat!(include_str!("kernels/letterbox.ptx"), "\0");

/// Where the letterbox kernel writes: the model's input precision and the slot's geometry,
/// the colour conversion of YUV frames.
#[derive(Debug, Clone, Copy)]
pub struct LetterboxTarget {
    pub letterbox: crate::Letterbox,
    pub matrix: crate::YuvMatrix,
    pub full_range: bool,
    /// float16 instead of float32.
    pub half: bool,
}

impl LetterboxTarget {
    /// The bytes of one frame's slot in the batch.
    pub fn slot_bytes(&self) -> usize {
        self.letterbox.slot_len() * if self.half { 2 } else { 4 }
    }
}

// SAFETY: driver handles are usable from any thread; the copier pushes its context itself.
unsafe impl Send for FrameCopier {}
unsafe impl Sync for FrameCopier {}

impl FrameCopier {
    /// A copier for device `ordinal`'s primary context.
    pub fn new(ordinal: i32) -> Result<FrameCopier, String> {
        let driver = driver()?;
        let (context, device) = driver.primary_context(ordinal)?;
        let stream = driver.with_context(context, || driver.stream())?;
        Ok(FrameCopier {
            driver,
            context,
            device,
            stream,
            kernel: OnceLock::new(),
        })
    }

    /// The letterbox kernel, loaded into this context from its PTX on first use; an error
    /// where the driver cannot compile it (a driver older than the PTX).
    pub fn letterbox_kernel(&self) -> Result<(), String> {
        self.kernel().map(|_| ())
    }

    fn kernel(&self) -> Result<KernelHandle, String> {
        let d = self.driver;
        self.kernel
            .get_or_init(|| {
                d.with_context(self.context, || {
                    let mut module = std::ptr::null_mut();
                    // SAFETY: NUL-terminated PTX text.
                    d.check("cuModuleLoadData", unsafe {
                        (d.module_load_data)(&mut module, LETTERBOX_PTX.as_ptr().cast())
                    })?;
                    let mut f = std::ptr::null_mut();
                    // SAFETY: a module just loaded, a NUL-terminated name.
                    d.check("cuModuleGetFunction", unsafe {
                        (d.module_get_function)(&mut f, module, c"letterbox".as_ptr())
                    })?;
                    Ok(KernelHandle(f))
                })
            })
            .clone()
    }

    /// Letterboxes `frame` into the slot at `dst` (3 planes of the target's size, float32 or
    /// float16) with the letterbox kernel, and waits for it. `frame` must be of this context
    /// (copy one of another context across first: [`FrameCopier::copy_tight`]).
    ///
    /// # Safety
    /// `frame`'s planes must be readable device memory of this context for their rows at their
    /// pitches, `dst` writable device memory of `3 * dst_w * dst_h` values.
    pub unsafe fn letterbox(
        &self,
        frame: &DeviceFrame,
        dst: u64,
        target: &LetterboxTarget,
    ) -> Result<(), String> {
        // SAFETY: the caller's guarantees, held until the wait below returns.
        unsafe { self.letterbox_queued(frame, dst, target) }?;
        self.wait()
    }

    /// [`FrameCopier::letterbox`] without the wait: the kernel is queued on the copier's stream
    /// (after whatever is queued there) and runs while the caller goes on.
    ///
    /// # Safety
    /// As for [`FrameCopier::letterbox`], but the frame must stay readable and `dst` writable
    /// (and read by nothing else) until [`FrameCopier::wait`] returns.
    pub unsafe fn letterbox_queued(
        &self,
        frame: &DeviceFrame,
        dst: u64,
        target: &LetterboxTarget,
    ) -> Result<(), String> {
        if !frame.context.is_null() && frame.context != self.context {
            return Err("the frame is in another CUDA context".into());
        }
        let lb = &target.letterbox;
        if (frame.width, frame.height) != (lb.src_w, lb.src_h) {
            return Err(format!(
                "a {}x{} frame for a letterbox of {}x{}",
                frame.width, frame.height, lb.src_w, lb.src_h
            ));
        }
        let f = self.kernel()?;
        let mut args = letterbox_args(frame, dst, target);
        let (bx, by) = (32u32, 8u32);
        let grid = (
            (lb.dst_w as u32).div_ceil(bx),
            (lb.dst_h as u32).div_ceil(by),
        );
        let d = self.driver;
        d.with_context(self.context, || {
            let mut params = args.pointers();
            // SAFETY: the parameters match the kernel's signature in number, order and size;
            // the caller vouches for the memory.
            d.check("cuLaunchKernel", unsafe {
                (d.launch_kernel)(
                    f.0,
                    grid.0,
                    grid.1,
                    1,
                    bx,
                    by,
                    1,
                    0,
                    self.stream,
                    params.as_mut_ptr(),
                    std::ptr::null_mut(),
                )
            })
        })
    }

    /// Waits for everything queued on the copier's stream (kernels, copies); reports a failure
    /// of any of it.
    pub fn wait(&self) -> Result<(), String> {
        let d = self.driver;
        d.with_context(self.context, || d.synchronize(self.stream))
    }

    /// The primary context (for sharing with other CUDA users of the process).
    pub fn context(&self) -> Handle {
        self.context
    }

    /// Copies `bytes` from `src` to `dst` (device memory of this context, or host memory pinned
    /// by CUDA: the driver tells them apart by address) and waits for it.
    ///
    /// # Safety
    /// Both ranges must be device memory of this context or pinned host memory, `bytes` long.
    pub unsafe fn copy(&self, dst: u64, src: u64, bytes: usize) -> Result<(), String> {
        // SAFETY: the caller's guarantees, held until the wait below returns.
        unsafe { self.copy_queued(dst, src, bytes) }?;
        self.wait()
    }

    /// [`FrameCopier::copy`] without the wait: queued on the copier's stream.
    ///
    /// # Safety
    /// As for [`FrameCopier::copy`], until [`FrameCopier::wait`] returns.
    pub unsafe fn copy_queued(&self, dst: u64, src: u64, bytes: usize) -> Result<(), String> {
        let d = self.driver;
        d.with_context(self.context, || {
            // SAFETY: the caller vouches for both ranges.
            d.check("cuMemcpyAsync", unsafe {
                (d.memcpy_async)(dst, src, bytes, self.stream)
            })
        })
    }

    /// The device (`CUdevice`) of the context.
    pub fn device(&self) -> i32 {
        self.device
    }

    /// Copies `frame` into `dst` in its tight layout ([`crate::graph::tight_len`] bytes) and waits
    /// for the copy.
    ///
    /// # Safety
    /// `frame`'s planes must be readable device memory of its context (this one, or another on
    /// the same device: copied across) for their rows at their pitches, and `dst` writable
    /// device memory of this context of `tight_len` bytes.
    pub unsafe fn copy_tight(&self, frame: &DeviceFrame, dst: u64) -> Result<(), String> {
        let d = self.driver;
        let own = frame.context.is_null() || frame.context == self.context;
        d.with_context(self.context, || {
            tight_copies(frame, dst, |to, from, row, rows| {
                // SAFETY: the caller vouches for both ranges.
                unsafe {
                    if own {
                        d.copy_2d(self.stream, to, from, row, rows)
                    } else {
                        let to = (to.0, to.1, self.context);
                        let from = (from.0, from.1, frame.context);
                        d.copy_2d_peer(self.stream, to, from, row, rows)
                    }
                }
            })?;
            d.synchronize(self.stream)
        })
    }
}

/// The letterbox kernel's parameters for `frame` into `dst` (see `kernels/letterbox.cu`).
fn letterbox_args(frame: &DeviceFrame, dst: u64, target: &LetterboxTarget) -> KernelArgs {
    use crate::PixelFormat as F;
    let lb = &target.letterbox;
    let (planes, pitches) = (frame.planes, frame.strides);
    // (kind, step, R/G/B offsets, chroma planes): see the kernel's parameters.
    let (kind, step, order, p1, p2) = match frame.format {
        F::Rgb => (0, 3, [0, 1, 2], (0, 0), (0, 0)),
        F::Bgr => (0, 3, [2, 1, 0], (0, 0), (0, 0)),
        F::Rgba => (0, 4, [0, 1, 2], (0, 0), (0, 0)),
        F::Bgrx => (0, 4, [2, 1, 0], (0, 0), (0, 0)),
        F::I420 => (
            1,
            1,
            [0; 3],
            (planes[1], pitches[1]),
            (planes[2], pitches[2]),
        ),
        F::Nv12 => (
            1,
            2,
            [0; 3],
            (planes[1], pitches[1]),
            (planes[1] + 1, pitches[1]),
        ),
    };
    let int = |v: usize| v as i32;
    let mut args = KernelArgs::default();
    args.ptr(planes[0]).int(int(pitches[0]));
    args.ptr(p1.0).int(int(p1.1));
    args.ptr(p2.0).int(int(p2.1));
    args.int(kind).int(step);
    for o in order {
        args.int(o);
    }
    for v in [
        lb.src_w, lb.src_h, lb.new_w, lb.new_h, lb.dst_w, lb.dst_h, lb.left, lb.top,
    ] {
        args.int(int(v));
    }
    for v in crate::preprocess::yuv_coeffs(target.matrix, target.full_range) {
        args.float(v);
    }
    args.ptr(dst).int(i32::from(target.half));
    args
}

/// A kernel's parameter values, each in its own 8-byte cell (cuLaunchKernel reads each through
/// a pointer, as many bytes as the parameter's type has).
#[derive(Default)]
struct KernelArgs {
    cells: Vec<u64>,
    /// Each parameter's PTX type, to check against the kernel's signature.
    types: Vec<&'static str>,
}

impl KernelArgs {
    fn ptr(&mut self, v: u64) -> &mut Self {
        self.cells.push(v);
        self.types.push("u64");
        self
    }
    fn int(&mut self, v: i32) -> &mut Self {
        self.cells.push(u64::from(v as u32));
        self.types.push("u32");
        self
    }
    fn float(&mut self, v: f32) -> &mut Self {
        self.cells.push(u64::from(v.to_bits()));
        self.types.push("f32");
        self
    }
    /// Pointers to the cells, valid while `self` is neither moved nor changed.
    fn pointers(&mut self) -> Vec<*mut c_void> {
        self.cells
            .iter_mut()
            .map(|c| (c as *mut u64).cast())
            .collect()
    }
}

/// Device memory of the current primary context of device `ordinal`, freed on drop (for checks
/// and benchmarks; the elements take their buffers from ONNX Runtime's arenas).
pub struct DeviceBuffer {
    copier: FrameCopier,
    pub ptr: u64,
    pub len: usize,
}

impl DeviceBuffer {
    pub fn new(ordinal: i32, len: usize) -> Result<DeviceBuffer, String> {
        let copier = FrameCopier::new(ordinal)?;
        let d = copier.driver;
        let mut ptr = 0;
        // SAFETY: out-pointer to a local.
        d.with_context(copier.context, || {
            d.check("cuMemAlloc", unsafe { (d.mem_alloc)(&mut ptr, len.max(1)) })
        })?;
        Ok(DeviceBuffer { copier, ptr, len })
    }

    /// The copier of the buffer's context.
    pub fn copier(&self) -> &FrameCopier {
        &self.copier
    }

    /// Copies `data` into the buffer from offset 0.
    pub fn upload(&self, data: &[u8]) -> Result<(), String> {
        assert!(data.len() <= self.len);
        // SAFETY: unified addressing reads the host slice; the buffer holds `len` bytes.
        unsafe { self.copier.copy(self.ptr, data.as_ptr() as u64, data.len()) }
    }

    /// Copies the buffer's first `out.len()` bytes into `out`.
    pub fn download(&self, out: &mut [u8]) -> Result<(), String> {
        assert!(out.len() <= self.len);
        // SAFETY: unified addressing writes the host slice; the buffer holds `len` bytes.
        unsafe {
            self.copier
                .copy(out.as_mut_ptr() as u64, self.ptr, out.len())
        }
    }
}

/// A frame's planes uploaded into one device buffer (each plane at its stride), and the frame
/// as it lies there (checks and benchmarks).
pub fn upload_frame(
    ordinal: i32,
    view: &crate::FrameView,
) -> Result<(DeviceBuffer, DeviceFrame), String> {
    let host: Vec<u8> = view.planes.concat();
    let buf = DeviceBuffer::new(ordinal, host.len())?;
    buf.upload(&host)?;
    let mut planes = [0u64; 3];
    let mut at = buf.ptr;
    for (i, p) in view.planes.iter().enumerate() {
        planes[i] = at;
        at += p.len() as u64;
    }
    let frame = DeviceFrame {
        format: view.format,
        width: view.width,
        height: view.height,
        planes,
        strides: view.strides,
        context: std::ptr::null_mut(),
    };
    Ok((buf, frame))
}

impl Drop for DeviceBuffer {
    fn drop(&mut self) {
        let d = self.copier.driver;
        let _ = d.with_context(self.copier.context, || {
            // SAFETY: allocated by cuMemAlloc in new(), freed once.
            d.check("cuMemFree", unsafe { (d.mem_free)(self.ptr) })
        });
    }
}

/// `frame` as [`FrameCopier::copy_tight`] leaves it at `at`: tight pitches, the copier's
/// context.
pub fn tight_frame(frame: &DeviceFrame, at: u64) -> DeviceFrame {
    let mut planes = [0u64; 3];
    let mut strides = [0usize; 3];
    let mut offset = at;
    for (plane, row, rows) in crate::graph::tight_planes(frame.format, frame.width, frame.height) {
        planes[plane] = offset;
        strides[plane] = row;
        offset += (row * rows) as u64;
    }
    DeviceFrame {
        planes,
        strides,
        context: std::ptr::null_mut(),
        ..*frame
    }
}

/// The 2-D copies that put `frame` into its tight layout at `dst`: `copy((dst, dst pitch),
/// (src, src pitch), row bytes, rows)` per plane, in order.
pub fn tight_copies(
    frame: &DeviceFrame,
    dst: u64,
    mut copy: impl FnMut((u64, usize), (u64, usize), usize, usize) -> Result<(), String>,
) -> Result<(), String> {
    let mut at = dst;
    for (plane, row, rows) in crate::graph::tight_planes(frame.format, frame.width, frame.height) {
        if row * rows == 0 {
            continue;
        }
        copy(
            (at, row),
            (frame.planes[plane], frame.strides[plane]),
            row,
            rows,
        )?;
        at += (row * rows) as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{copy_tight, tight_len};
    use crate::preprocess::TestFrame;
    use crate::{PixelFormat, YuvMatrix};

    /// A frame at made-up device addresses (plans and arguments only, nothing read).
    fn fake_frame(
        format: PixelFormat,
        (width, height): (usize, usize),
        planes: [u64; 3],
        [luma, chroma]: [usize; 2],
    ) -> DeviceFrame {
        DeviceFrame {
            format,
            width,
            height,
            planes,
            strides: [luma, chroma, chroma],
            context: std::ptr::null_mut(),
        }
    }

    /// The arguments passed match the kernel's parameters in the committed PTX, in number, order
    /// and type, for every format (a mismatch would read garbage on the GPU, which CI lacks).
    #[test]
    fn letterbox_arguments_match_the_ptx_signature() {
        let entry = LETTERBOX_PTX
            .split(".entry letterbox(")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .expect("letterbox entry in the PTX");
        let ptx: Vec<&str> = entry
            .lines()
            .filter_map(|l| l.trim().strip_prefix(".param ."))
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        for format in [
            PixelFormat::Rgb,
            PixelFormat::Bgr,
            PixelFormat::Rgba,
            PixelFormat::Bgrx,
            PixelFormat::I420,
            PixelFormat::Nv12,
        ] {
            let frame = fake_frame(format, (1920, 1080), [0x1000, 0x2000, 0x3000], [2048, 1024]);
            let target = LetterboxTarget {
                letterbox: crate::Letterbox::new(1920, 1080, (640, 640), 32, true),
                matrix: YuvMatrix::Bt709,
                full_range: false,
                half: true,
            };
            let args = letterbox_args(&frame, 0x9000, &target);
            assert_eq!(args.types, ptx, "{format:?}");
            assert_eq!(args.cells.len(), args.types.len());
            // The geometry lands where the kernel reads it: src_w .. top after the 11 leading.
            let lb = &target.letterbox;
            let geometry: Vec<u64> = [
                lb.src_w, lb.src_h, lb.new_w, lb.new_h, lb.dst_w, lb.dst_h, lb.left, lb.top,
            ]
            .iter()
            .map(|&v| v as u64)
            .collect();
            assert_eq!(args.cells[11..19], geometry[..], "{format:?}");
            assert_eq!(args.cells[26..], [0x9000, 1], "{format:?}");
            if format == PixelFormat::Nv12 {
                // U and V interleaved in the second plane.
                assert_eq!(args.cells[2..6], [0x2000, 1024, 0x2001, 1024]);
            }
        }
    }

    /// The frame that [`tight_frame`] describes is where [`tight_copies`] puts each plane.
    #[test]
    fn tight_frame_describes_the_tight_copy() {
        for format in [
            PixelFormat::Rgb,
            PixelFormat::Bgrx,
            PixelFormat::I420,
            PixelFormat::Nv12,
        ] {
            let frame = DeviceFrame {
                context: 0x1 as Handle,
                ..fake_frame(format, (203, 301), [0x10000, 0x80000, 0xc0000], [1024, 512])
            };
            let tight = tight_frame(&frame, 0x500000);
            assert!(tight.context.is_null());
            let mut n = 0;
            tight_copies(&frame, 0x500000, |(to, to_pitch), (from, _), _, _| {
                let plane = frame.planes.iter().position(|&p| p == from).unwrap();
                assert_eq!((tight.planes[plane], tight.strides[plane]), (to, to_pitch));
                n += 1;
                Ok(())
            })
            .unwrap();
            assert!(n >= 1, "{format:?}");
        }
    }

    /// The device copy plan, carried out on host memory, gives the host tight copy.
    #[test]
    fn device_copy_plan_is_the_tight_copy() {
        for format in [
            PixelFormat::Rgb,
            PixelFormat::Bgrx,
            PixelFormat::I420,
            PixelFormat::Nv12,
        ] {
            let (w, h) = (203, 301);
            let frame = TestFrame::random(format, w, h, 5);
            let view = frame.view(YuvMatrix::Bt601);
            let len = tight_len(format, w, h);
            let mut expected = vec![0u8; len];
            copy_tight(&view, &mut expected);
            let addr = |i: usize| view.planes[i].as_ptr() as u64;
            let device = DeviceFrame {
                format,
                width: w,
                height: h,
                planes: [addr(0), addr(1), addr(2)],
                strides: view.strides,
                context: std::ptr::null_mut(),
            };
            let mut out = vec![7u8; len + 16];
            let base = out.as_mut_ptr() as u64;
            let mut copied = 0;
            tight_copies(
                &device,
                base,
                |(to, to_pitch), (from, from_pitch), row, rows| {
                    assert!(row <= from_pitch && row <= to_pitch);
                    assert!(to >= base && to + (to_pitch * rows) as u64 <= base + len as u64);
                    for r in 0..rows {
                        // SAFETY: host ranges checked above (destination) or of the test frame.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                (from + (r * from_pitch) as u64) as *const u8,
                                (to + (r * to_pitch) as u64) as *mut u8,
                                row,
                            )
                        };
                    }
                    copied += row * rows;
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(copied, len, "{format:?}");
            assert!(out[..len] == expected[..], "{format:?}");
            assert!(
                out[len..].iter().all(|&b| b == 7),
                "{format:?}: wrote past the slot"
            );
        }
    }
}
