// SPDX-License-Identifier: MIT OR Apache-2.0
//! Annotated video of each live source over RTSP (`--rtsp ADDR`): rtsp://ADDR/NAME, H.264.
//!
//! One GStreamer RTSP server in the process, on a main loop of its own. A source's media is
//! made when its first client asks and is shared by every client of that source: one encoder a
//! watched source, none for a source nobody watches. The source's pipeline ends in an appsink
//! (`rtspout`) whose frames go to the media's appsrc while there is one; both sides drop rather
//! than wait, so a slow client or encoder never holds the analysis back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;

/// The name of the appsink a source's pipeline ends in when its video is served.
pub const SINK: &str = "rtspout";

/// The served sources' appsrcs, by source name, while their media run.
type Feeds = Arc<Mutex<HashMap<String, gst_app::AppSrc>>>;

pub struct RtspOut {
    server: gst_rtsp_server::RTSPServer,
    feeds: Feeds,
    main_loop: glib::MainLoop,
}

impl RtspOut {
    /// Starts the server on `addr`.
    pub fn start(addr: SocketAddr) -> Result<Arc<RtspOut>, String> {
        let server = gst_rtsp_server::RTSPServer::new();
        server.set_address(&addr.ip().to_string());
        server.set_service(&addr.port().to_string());
        let context = glib::MainContext::new();
        // Binds now, so a port in use is an error at start.
        server
            .attach(Some(&context))
            .map_err(|e| format!("--rtsp {addr}: {e}"))?;
        let port = u16::try_from(server.bound_port())
            .map_err(|_| format!("--rtsp {addr}: the server did not bind"))?;
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let l = main_loop.clone();
        std::thread::Builder::new()
            .name("rtsp-server".into())
            .spawn(move || {
                context
                    .with_thread_default(|| l.run())
                    .expect("a new main context is free to own")
            })
            .map_err(|e| format!("--rtsp: {e}"))?;
        tracing::info!("annotated video served on rtsp://{}:{port}/NAME", addr.ip());
        Ok(Arc::new(RtspOut {
            server,
            feeds: Feeds::default(),
            main_loop,
        }))
    }

    /// Serves source `name` at /NAME.
    pub fn mount(&self, name: &str) {
        let factory = gst_rtsp_server::RTSPMediaFactory::new();
        // Frames come as the analysis makes them (stamped on arrival); x264 without lookahead
        // and a key frame a second, so a client that joins a shared media starts within one.
        factory.set_launch(
            "( appsrc name=feed is-live=true format=time do-timestamp=true max-buffers=4 \
             leaky-type=downstream ! videoconvert ! video/x-raw,format=I420 \
             ! x264enc tune=zerolatency speed-preset=veryfast key-int-max=30 \
             ! rtph264pay name=pay0 pt=96 config-interval=-1 )",
        );
        factory.set_shared(true);
        let feeds = self.feeds.clone();
        let source = name.to_string();
        factory.connect_media_configure(move |_, media| {
            let Some(feed) = media
                .element()
                .downcast::<gst::Bin>()
                .ok()
                .and_then(|b| b.by_name_recurse_up("feed"))
                .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            else {
                return;
            };
            feeds.lock().unwrap().insert(source.clone(), feed.clone());
            let (feeds, source) = (feeds.clone(), source.clone());
            media.connect_unprepared(move |_| {
                let mut f = feeds.lock().unwrap();
                if f.get(&source) == Some(&feed) {
                    f.remove(&source);
                }
            });
        });
        if let Some(mounts) = self.server.mount_points() {
            mounts.add_factory(&format!("/{name}"), factory);
        }
    }

    /// Stops serving `name` (a removed source); its clients' media end.
    pub fn unmount(&self, name: &str) {
        if let Some(mounts) = self.server.mount_points() {
            mounts.remove_factory(&format!("/{name}"));
        }
        if let Some(feed) = self.feeds.lock().unwrap().remove(name) {
            let _ = feed.end_of_stream();
        }
    }

    /// Hands the frames reaching `pipeline`'s `rtspout` appsink to the media of `name`, while a
    /// client watches.
    pub fn connect(&self, pipeline: &gst::Pipeline, name: &str) {
        let Some(sink) = pipeline
            .by_name(SINK)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
        else {
            return;
        };
        let feeds = self.feeds.clone();
        let name = name.to_string();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let feed = feeds.lock().unwrap().get(&name).cloned();
                    if let (Some(feed), Some(buffer)) = (feed, sample.buffer()) {
                        let caps = sample.caps_owned();
                        if feed.caps() != caps {
                            feed.set_caps(caps.as_ref());
                        }
                        // The media has a clock of its own: appsrc stamps frames on arrival.
                        let mut b = buffer.copy();
                        let m = b.make_mut();
                        m.set_pts(None);
                        m.set_dts(None);
                        // A media going away refuses frames: nobody is watching.
                        let _ = feed.push_buffer(b);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    }

    /// The end of a source's description that feeds the server.
    pub fn sink() -> String {
        format!("appsink name={SINK} sync=false max-buffers=2 drop=true")
    }
}

impl Drop for RtspOut {
    fn drop(&mut self) {
        self.main_loop.quit();
    }
}
