// SPDX-License-Identifier: MIT OR Apache-2.0
//! Frames in CUDA memory from upstream (`video/x-raw(memory:CUDAMemory)`, as nvh264dec gives
//! them): the model reads them where the decoder wrote them, with one device-to-device copy into
//! the batch and no trip through host memory.
//!
//! GStreamer's CUDA library (libgstcuda-1.0, part of gst-plugins-bad since 1.22) is loaded at run
//! time, like the CUDA driver ([`courtvision_infer::cuda`]): hosts without it build and run
//! everything else, and the element, once its model is loaded, leaves CUDA memory out of its caps. The
//! element answers upstream's `gst.cuda.context` query with a GstCudaContext wrapping the
//! device's primary context — the one ONNX Runtime's CUDA provider runs in — so the decoder
//! allocates its output where the model's session can read it.
//!
//! gstreamer-rs (0.25) publishes no bindings for libgstcuda, and linking it would tie every build
//! to a GPU-side library: hence the handful of declarations here, loaded with libloading.

use std::ffi::{c_int, c_void};
use std::sync::{Arc, OnceLock};

use gst::glib;

use courtvision_infer::cuda::{DeviceFrame, FrameCopier, Handle};
use courtvision_infer::PixelFormat;

/// The caps feature of CUDA device memory.
pub const CUDA_MEMORY: &str = "memory:CUDAMemory";
/// The context type GStreamer's CUDA elements share.
pub const CONTEXT_TYPE: &str = "gst.cuda.context";
/// `GST_MAP_CUDA`: map a CUDA memory for its device address.
const MAP_CUDA: gst::ffi::GstMapFlags = gst::ffi::GST_MAP_FLAG_LAST << 1;

/// The public head of `GstCudaMemory` (gst/cuda/gstcudamemory.h, stable since 1.22).
#[repr(C)]
struct CudaMemoryHead {
    mem: gst::ffi::GstMemory,
    context: *mut c_void,
}

struct GstCuda {
    context_new_wrapped: unsafe extern "C" fn(Handle, c_int) -> *mut c_void,
    context_new_cuda_context: unsafe extern "C" fn(*mut c_void) -> *mut gst::ffi::GstContext,
    context_get_handle: unsafe extern "C" fn(*mut c_void) -> Handle,
    is_cuda_memory: unsafe extern "C" fn(*mut gst::ffi::GstMemory) -> glib::ffi::gboolean,
    _lib: libloading::Library,
}

// SAFETY: function pointers into a library that stays loaded; the functions are thread-safe.
unsafe impl Send for GstCuda {}
unsafe impl Sync for GstCuda {}

fn gst_cuda() -> Result<&'static GstCuda, String> {
    static LIB: OnceLock<Result<GstCuda, String>> = OnceLock::new();
    LIB.get_or_init(|| {
        // SAFETY: GStreamer's own CUDA library; loading it runs no user-visible initialisers.
        let lib = unsafe { libloading::Library::new("libgstcuda-1.0.so.0") }
            .map_err(|e| format!("no GStreamer CUDA library (libgstcuda-1.0.so.0): {e}"))?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the symbol has the signature of the field (gst/cuda headers, 1.22).
                *unsafe { lib.get($name) }.map_err(|e| format!("libgstcuda-1.0: {e}"))?
            };
        }
        let load: unsafe extern "C" fn() -> glib::ffi::gboolean = sym!(b"gst_cuda_load_library\0");
        // SAFETY: loads libcuda inside GStreamer's CUDA library; idempotent.
        if unsafe { load() } == 0 {
            return Err("GStreamer's CUDA library could not load the CUDA driver".into());
        }
        Ok(GstCuda {
            context_new_wrapped: sym!(b"gst_cuda_context_new_wrapped\0"),
            context_new_cuda_context: sym!(b"gst_context_new_cuda_context\0"),
            context_get_handle: sym!(b"gst_cuda_context_get_handle\0"),
            is_cuda_memory: sym!(b"gst_is_cuda_memory\0"),
            _lib: lib,
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// Taking CUDA memory from upstream on one device: the shared GStreamer context and the copier
/// into device batches.
///
/// Upstream CUDA elements are offered the model's context, and decoders then allocate there.
/// Memory of another context on the device (an upstream element bound elsewhere) is copied
/// across instead. Decoders kept in a context of their own on purpose were slower: twelve
/// streams of 1080p on an H100 gave 2739 frames/s instead of 3620 (fp16 b32), batch-1 latency
/// 2.19 ms instead of 1.76, with the GPU taking turns between the contexts.
pub struct CudaInput {
    copier: Arc<FrameCopier>,
    context: gst::Context,
}

impl CudaInput {
    /// Through `copier`'s context (its device's primary context); an error says what is
    /// missing (GStreamer's CUDA library).
    pub fn new(copier: Arc<FrameCopier>) -> Result<CudaInput, String> {
        let lib = gst_cuda()?;
        // SAFETY: a live primary context (retained for the process) and its device.
        let wrapped = unsafe { (lib.context_new_wrapped)(copier.context(), copier.device()) };
        if wrapped.is_null() {
            return Err("gst_cuda_context_new_wrapped failed".into());
        }
        // SAFETY: `wrapped` is a GstCudaContext we own one reference of; the GstContext takes
        // its own, so ours is dropped after.
        let context = unsafe {
            let ctx = (lib.context_new_cuda_context)(wrapped);
            gst::ffi::gst_object_unref(wrapped as *mut gst::ffi::GstObject);
            if ctx.is_null() {
                return Err("gst_context_new_cuda_context failed".into());
            }
            gst::Context::from_glib_full(ctx)
        };
        Ok(CudaInput { copier, context })
    }

    /// The context to answer `gst.cuda.context` queries with.
    pub fn context(&self) -> &gst::Context {
        &self.context
    }

    pub fn copier(&self) -> Arc<FrameCopier> {
        self.copier.clone()
    }

    /// The frame's device planes and their context when `buffer` is CUDA memory (`Ok(None)`
    /// when it is not CUDA memory at all). The returned map must live until the copy is done.
    pub fn map(
        &self,
        buffer: &gst::BufferRef,
        info: &gst_video::VideoInfo,
        format: PixelFormat,
    ) -> Result<Option<(DeviceMap, DeviceFrame)>, String> {
        let lib = gst_cuda()?;
        if buffer.n_memory() != 1 {
            return Ok(None);
        }
        let mem = buffer.peek_memory(0).as_ptr() as *mut gst::ffi::GstMemory;
        // SAFETY: a live memory of the buffer.
        if unsafe { (lib.is_cuda_memory)(mem) } == 0 {
            return Ok(None);
        }
        // SAFETY: CUDA memory starts with the public GstCudaMemory head.
        let ctx = unsafe { (*(mem as *const CudaMemoryHead)).context };
        if ctx.is_null() {
            return Err("CUDA memory without a CUDA context".into());
        }
        // SAFETY: the memory's GstCudaContext, alive while the memory is.
        let handle = unsafe { (lib.context_get_handle)(ctx) };
        let mut map = std::mem::MaybeUninit::<gst::ffi::GstMapInfo>::zeroed();
        // SAFETY: mapping a live memory for reading its device address; unmapped in Drop.
        let ok = unsafe {
            gst::ffi::gst_memory_map(mem, map.as_mut_ptr(), gst::ffi::GST_MAP_READ | MAP_CUDA)
        };
        if ok == 0 {
            return Err("could not map the CUDA memory".into());
        }
        // SAFETY: initialised by a successful map.
        let map = DeviceMap {
            mem,
            info: unsafe { map.assume_init() },
        };
        let base = map.info.data as u64;
        let (offsets, strides): (Vec<usize>, Vec<i32>) = match buffer.meta::<gst_video::VideoMeta>()
        {
            Some(m) => (m.offset().to_vec(), m.stride().to_vec()),
            None => (info.offset().to_vec(), info.stride().to_vec()),
        };
        let plane = |i: usize| offsets.get(i).map_or(0, |&o| base + o as u64);
        let stride = |i: usize| strides.get(i).map_or(0, |&s| s.max(0) as usize);
        let frame = DeviceFrame {
            format,
            width: info.width() as usize,
            height: info.height() as usize,
            planes: [plane(0), plane(1), plane(2)],
            strides: [stride(0), stride(1), stride(2)],
            context: handle,
        };
        Ok(Some((map, frame)))
    }
}

/// A CUDA memory mapped for its device address; unmapped on drop.
pub struct DeviceMap {
    mem: *mut gst::ffi::GstMemory,
    info: gst::ffi::GstMapInfo,
}

impl Drop for DeviceMap {
    fn drop(&mut self) {
        // SAFETY: mapped in CudaInput::map, the buffer holding the memory outlives this guard.
        unsafe { gst::ffi::gst_memory_unmap(self.mem, &mut self.info) };
    }
}

/// Whether `caps` carry CUDA memory.
pub fn is_cuda_caps(caps: &gst::CapsRef) -> bool {
    caps.features(0).is_some_and(|f| f.contains(CUDA_MEMORY))
}

/// `caps` without the structures in CUDA memory (for elements that cannot take it).
pub fn without_cuda(caps: &gst::Caps) -> gst::Caps {
    if caps.is_any() {
        return caps.clone();
    }
    let mut out = gst::Caps::new_empty();
    {
        let out = out.get_mut().expect("new caps");
        for (s, f) in caps.iter_with_features() {
            if !f.contains(CUDA_MEMORY) {
                out.append_structure_full(s.to_owned(), Some(f.to_owned()));
            }
        }
    }
    out
}
