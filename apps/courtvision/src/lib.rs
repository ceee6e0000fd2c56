// SPDX-License-Identifier: MIT OR Apache-2.0
//! The library part of the `courtvision` command: the results database, which the job
//! workers, the dashboard and the benchmarks share.

pub mod store;
