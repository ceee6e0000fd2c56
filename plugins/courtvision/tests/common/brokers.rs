// SPDX-License-Identifier: MIT OR Apache-2.0
//! Brokers for tests: a Mosquitto or a NATS server (with JetStream) of the test's own, on a
//! free port, that the test can kill and start again on the same port. Shared by the
//! plugin's tests (metapublish) and the command's (the job queue).
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A broker process, killed on drop.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    kind: &'static str,
    dir: tempfile::TempDir,
}

impl Broker {
    pub fn mosquitto() -> Broker {
        Broker::start("mosquitto", free_port(), tempfile::tempdir().unwrap())
    }

    pub fn nats() -> Broker {
        Broker::start("nats", free_port(), tempfile::tempdir().unwrap())
    }

    fn start(kind: &'static str, port: u16, dir: tempfile::TempDir) -> Broker {
        let child = match kind {
            "mosquitto" => {
                let conf = dir.path().join("mosquitto.conf");
                std::fs::write(
                    &conf,
                    format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
                )
                .unwrap();
                Command::new(which("mosquitto"))
                    .arg("-c")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
            }
            _ => Command::new(which("nats-server"))
                .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn(),
        }
        .unwrap_or_else(|e| panic!("{kind} (run setup.sh to install it): {e}"));
        let b = Broker {
            child: Some(child),
            port,
            kind,
            dir,
        };
        b.wait_listening();
        b
    }

    pub fn wait_listening(&self) {
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < end, "{} did not start", self.kind);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The same broker again on the same port.
    pub fn restart(mut self) -> Broker {
        self.kill();
        // The same folder: a NATS server keeps its JetStream streams.
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let (kind, port) = (self.kind, self.port);
        Broker::start(kind, port, dir)
    }

    pub fn url(&self) -> String {
        let scheme = if self.kind == "mosquitto" {
            "mqtt"
        } else {
            "nats"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Debian installs the brokers in /usr/sbin, which a user's PATH may not hold.
pub fn which(name: &str) -> String {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = format!("{dir}/{name}");
        if std::path::Path::new(&p).exists() {
            return p;
        }
    }
    name.to_string()
}
