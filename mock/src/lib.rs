//! An embedded WeChat Pay simulator.
#![forbid(unsafe_code)]
