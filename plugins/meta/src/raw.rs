// SPDX-License-Identifier: MIT OR Apache-2.0
//! The GstMeta glue every courtvision meta shares: a Rust value stored after the GstMeta header,
//! registered once per type, dropped with the buffer, and copied (or scaled by videoscale) by
//! the transform function. Each meta type only says what it stores and how it merges/scales.

use std::ffi::CStr;

use gst::glib;
use gst::glib::translate::{from_glib, IntoGlib};

/// The data a meta stores, and how GStreamer registers it.
pub trait MetaData: Clone + Default + Send + Sync + 'static {
    /// GType name of the API (e.g. "CourtvisionDetectionsMetaAPI").
    const API_NAME: &'static CStr;
    /// Name of the implementation.
    const IMPL_NAME: &'static CStr;
    /// Meta tags (decide which transforms keep the meta).
    const TAGS: &'static [&'static CStr];

    /// Adds `other` into `self` when a copy lands on a buffer that already has this meta.
    fn merge(&mut self, other: &Self);

    /// Rescales pixel coordinates (videoscale); nothing for data without coordinates.
    fn scale(&mut self, _sx: f32, _sy: f32) {}

    /// The registered API type (implement with [`meta_statics!`]).
    fn api_type() -> glib::Type;
    /// The registered meta info (implement with [`meta_statics!`]).
    fn meta_info() -> *const gst::ffi::GstMetaInfo;
}

/// Implements [`MetaData::api_type`] and [`MetaData::meta_info`] with per-type statics.
macro_rules! meta_statics {
    ($t:ty) => {
        fn api_type() -> gst::glib::Type {
            static TYPE: std::sync::LazyLock<gst::glib::Type> =
                std::sync::LazyLock::new(crate::raw::register_api::<$t>);
            *TYPE
        }

        fn meta_info() -> *const gst::ffi::GstMetaInfo {
            static INFO: std::sync::LazyLock<crate::raw::InfoPtr> =
                std::sync::LazyLock::new(crate::raw::register_info::<$t>);
            INFO.0.as_ptr()
        }
    };
}
pub(crate) use meta_statics;

/// The C layout of every courtvision meta: the GstMeta header, then the Rust value.
#[repr(C)]
pub struct RawMeta<T> {
    parent: gst::ffi::GstMeta,
    pub(crate) data: T,
}

pub struct InfoPtr(pub std::ptr::NonNull<gst::ffi::GstMetaInfo>);
unsafe impl Send for InfoPtr {}
unsafe impl Sync for InfoPtr {}

/// What must agree between two copies of this crate that share one registration: the crate's
/// version and the size and alignment of the stored value.
fn layout<T: MetaData>() -> String {
    format!(
        "courtvision-meta {} {}/{}",
        env!("CARGO_PKG_VERSION"),
        std::mem::size_of::<RawMeta<T>>(),
        std::mem::align_of::<RawMeta<T>>()
    )
}

fn layout_quark() -> glib::Quark {
    glib::Quark::from_str("courtvision-meta-layout")
}

/// Registers the API type, or takes the registration another copy of this crate made: each
/// plugin library (libgstcourtvision, libgstcourtsrc) carries this crate, and a process that
/// loads both (gst-launch-1.0) must see one type per meta. A copy of another layout is refused
/// with a message naming both, instead of reading memory it does not understand.
pub fn register_api<T: MetaData>() -> glib::Type {
    let ours = layout::<T>();
    let existing = unsafe { glib::gobject_ffi::g_type_from_name(T::API_NAME.as_ptr()) };
    let t: glib::Type = if existing != 0 {
        unsafe { from_glib(existing) }
    } else {
        let mut tags: Vec<*const std::ffi::c_char> = T::TAGS.iter().map(|t| t.as_ptr()).collect();
        tags.push(std::ptr::null());
        let t: glib::Type = unsafe {
            from_glib(gst::ffi::gst_meta_api_type_register(
                T::API_NAME.as_ptr(),
                tags.as_mut_ptr(),
            ))
        };
        if t == glib::Type::INVALID {
            // Registered by the other copy between the lookup and here.
            unsafe { from_glib(glib::gobject_ffi::g_type_from_name(T::API_NAME.as_ptr())) }
        } else {
            let value = std::ffi::CString::new(ours.clone()).expect("no NUL in the layout");
            // The type lives as long as the process, and so does its layout string.
            unsafe {
                glib::gobject_ffi::g_type_set_qdata(
                    t.into_glib(),
                    layout_quark().into_glib(),
                    value.into_raw() as glib::ffi::gpointer,
                )
            };
            t
        }
    };
    assert_ne!(t, glib::Type::INVALID, "registering {:?}", T::API_NAME);
    let theirs =
        unsafe { glib::gobject_ffi::g_type_get_qdata(t.into_glib(), layout_quark().into_glib()) };
    if !theirs.is_null() {
        let theirs = unsafe { CStr::from_ptr(theirs as *const std::ffi::c_char) };
        assert!(
            theirs.to_bytes() == ours.as_bytes(),
            "{:?} is registered by courtvision plugins of another build ({theirs:?}, this one \
             {ours:?}): install the plugins of one build together",
            T::API_NAME
        );
    }
    t
}

/// Registers the meta implementation, or takes the one another copy of this crate registered
/// (same API type, so the same layout: see [`register_api`]).
pub fn register_info<T: MetaData>() -> InfoPtr {
    let api = T::api_type();
    let find = || unsafe { gst::ffi::gst_meta_get_info(T::IMPL_NAME.as_ptr()) };
    let mut info = find();
    if info.is_null() {
        info = unsafe {
            gst::ffi::gst_meta_register(
                api.into_glib(),
                T::IMPL_NAME.as_ptr(),
                std::mem::size_of::<RawMeta<T>>(),
                Some(init::<T>),
                Some(free::<T>),
                Some(transform::<T>),
            )
        };
        if info.is_null() {
            info = find();
        }
    }
    let info = std::ptr::NonNull::new(info as *mut gst::ffi::GstMetaInfo)
        .expect("gst_meta_register failed");
    assert_eq!(
        unsafe { info.as_ref().api },
        api.into_glib(),
        "{:?} is registered for another API",
        T::IMPL_NAME
    );
    InfoPtr(info)
}

/// Adds a meta holding `data` to the buffer.
pub fn add<T: MetaData>(buffer: &mut gst::BufferRef, data: T) {
    let mut data = std::mem::ManuallyDrop::new(data);
    unsafe {
        gst::ffi::gst_buffer_add_meta(
            buffer.as_mut_ptr(),
            T::meta_info(),
            &mut *data as *mut T as glib::ffi::gpointer,
        );
    }
}

unsafe extern "C" fn init<T: MetaData>(
    meta: *mut gst::ffi::GstMeta,
    params: glib::ffi::gpointer,
    _buffer: *mut gst::ffi::GstBuffer,
) -> glib::ffi::gboolean {
    let meta = &mut *(meta as *mut RawMeta<T>);
    // `params` is the value moved in by `add` (ManuallyDrop there), or null.
    let data = if params.is_null() {
        T::default()
    } else {
        std::ptr::read(params as *const T)
    };
    std::ptr::write(&mut meta.data, data);
    glib::ffi::GTRUE
}

unsafe extern "C" fn free<T: MetaData>(
    meta: *mut gst::ffi::GstMeta,
    _buffer: *mut gst::ffi::GstBuffer,
) {
    let meta = &mut *(meta as *mut RawMeta<T>);
    std::ptr::drop_in_place(&mut meta.data);
}

/// Where `dest` already has the meta: the existing one, to merge into.
unsafe fn existing<T: MetaData>(dest: *mut gst::ffi::GstBuffer) -> Option<*mut RawMeta<T>> {
    let m = gst::ffi::gst_buffer_get_meta(dest, T::api_type().into_glib());
    (!m.is_null()).then_some(m as *mut RawMeta<T>)
}

/// Copies (buffer copies, in-place transforms) and scales (videoscale) the meta.
unsafe extern "C" fn transform<T: MetaData>(
    dest: *mut gst::ffi::GstBuffer,
    meta: *mut gst::ffi::GstMeta,
    _buffer: *mut gst::ffi::GstBuffer,
    type_: glib::ffi::GQuark,
    data: glib::ffi::gpointer,
) -> glib::ffi::gboolean {
    let src = &*(meta as *const RawMeta<T>);
    // GST_META_TRANSFORM_IS_COPY is a C macro comparing with the "gst-copy" quark.
    let is_copy = type_ == glib::Quark::from_str("gst-copy").into_glib();
    let is_scale = type_ == gst_video::ffi::gst_video_meta_transform_scale_get_quark();
    if !is_copy && !is_scale {
        return glib::ffi::GFALSE;
    }
    let mut copy = src.data.clone();
    if is_scale && !data.is_null() {
        let t = &*(data as *const gst_video::ffi::GstVideoMetaTransform);
        let (iw, ih) = ((*t.in_info).width as f32, (*t.in_info).height as f32);
        let (ow, oh) = ((*t.out_info).width as f32, (*t.out_info).height as f32);
        if iw > 0.0 && ih > 0.0 {
            copy.scale(ow / iw, oh / ih);
        }
    }
    match existing::<T>(dest) {
        Some(m) => (*m).data.merge(&copy),
        None => add(gst::BufferRef::from_mut_ptr(dest), copy),
    }
    glib::ffi::GTRUE
}
