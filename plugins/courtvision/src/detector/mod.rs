// SPDX-License-Identifier: MIT OR Apache-2.0
//! `GstCourtvisionDetector`: the abstract base class of the detector elements (yolodetect,
//! posedetect). It owns what they share — the properties, the pads and caps, loading the model,
//! the batching runtime that runs it and attaches the results — while a subclass says which
//! models it runs ([`DetectorImpl::check_model`]) and logs under its own debug category.
//!
//! - [`imp`]: the GObject class (properties, pads, state changes, loading the model);
//! - [`runtime`]: the streaming side (batches, the worker task, events, queries, latency);
//! - [`settings`]: property values and specs; [`error`]: typed set-up errors;
//! - [`fill`]: results for skipped frames; [`cudamem`]: frames in CUDA memory.

pub mod cudamem;
pub mod error;
pub mod fill;
mod imp;
mod runtime;
pub mod settings;

use std::path::Path;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

use courtvision_infer::ModelInfo;

pub use error::DetectorError;
pub use runtime::{FEEDBACK_EVENT, FLIGHTS_QUERY, SKIP_EVENT};
pub use settings::{ExecutionProvider, Preprocess};

glib::wrapper! {
    /// The detector base class; see the module docs.
    pub struct Detector(ObjectSubclass<imp::Detector>) @extends gst::Element, gst::Object;
}

/// The class structure: the parent's, then what each subclass sets in its `class_init`.
#[repr(C)]
pub struct Class {
    parent: gst::ffi::GstElementClass,
    /// The subclass's debug category (the base class's own until a subclass sets it).
    category: Option<gst::DebugCategory>,
    check_model: Option<CheckModel>,
}

/// The subclass's [`DetectorImpl::check_model`], called through the class.
type CheckModel = fn(&Detector, &Path, &ModelInfo) -> Result<(), DetectorError>;

// SAFETY: `Class` starts with the parent class structure and belongs to `imp::Detector`.
unsafe impl ClassStruct for Class {
    type Type = imp::Detector;
}

impl std::ops::Deref for Class {
    type Target = glib::Class<gst::Element>;

    fn deref(&self) -> &Self::Target {
        // SAFETY: `Class` starts with GstElementClass (repr(C)).
        unsafe { &*(self as *const _ as *const Self::Target) }
    }
}

impl std::ops::DerefMut for Class {
    fn deref_mut(&mut self) -> &mut Self::Target {
        // SAFETY: as in `deref`.
        unsafe { &mut *(self as *mut _ as *mut Self::Target) }
    }
}

/// What a detector element implements on top of the base class.
pub trait DetectorImpl: ElementImpl + ObjectSubclass<Type: IsA<Detector>> {
    /// The element's debug category: the base class logs its batches and decisions there.
    fn debug_category() -> gst::DebugCategory;

    /// Refuses a loaded model this element cannot run (posedetect: a model without keypoints).
    fn check_model(&self, _model: &Path, _info: &ModelInfo) -> Result<(), DetectorError> {
        Ok(())
    }
}

// SAFETY: `class_init` only fills the fields of `Class` after the parent's class_init.
unsafe impl<T: DetectorImpl> IsSubclassable<T> for Detector {
    fn class_init(class: &mut glib::Class<Self>) {
        Self::parent_class_init::<T>(class.upcast_ref_mut());
        let klass = class.as_mut();
        klass.category = Some(T::debug_category());
        klass.check_model = Some(|obj, model, info| {
            // SAFETY: the function is only ever called on instances of `T`'s class.
            let imp = unsafe { obj.unsafe_cast_ref::<T::Type>() }.imp();
            imp.check_model(model, info)
        });
    }
}

/// Marks the base class and its enums as plugin API, so that the documentation shows them once
/// rather than with every element.
pub fn mark_plugin_api() {
    let flags = gst::PluginAPIFlags::empty();
    Detector::static_type().mark_as_plugin_api(flags);
    ExecutionProvider::static_type().mark_as_plugin_api(flags);
    Preprocess::static_type().mark_as_plugin_api(flags);
    fill::Fill::static_type().mark_as_plugin_api(flags);
}
