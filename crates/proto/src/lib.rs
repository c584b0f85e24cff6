//! # stele-proto: the protocols Stele speaks, as Rust types
//!
//! Our own `.proto` files (written from the protocols' facts: packages, services, messages and
//! field numbers as the clients have them), compiled at build time by protox. Each package is a
//! module: its messages (prost) and its service's server trait and client (tonic).
//!
//! - [`immudb`]: `immudb.schema`, immudb 1.9.3's `ImmuService`.
//! - [`umadb`]: `umadb.v1`, UmaDB 0.7.8's `DCB` event-store service.
//! - [`health`]: `grpc.health.v1`, the standard health service.
//!
//! Not here: any behaviour. This crate links neither RocksDB nor DataFusion, so a client binary
//! that uses it stays light.

/// `immudb.schema`: messages and the `ImmuService` server trait and client.
pub mod immudb {
    #![allow(clippy::all, missing_docs, non_camel_case_types)]
    tonic::include_proto!("immudb.schema");

    /// The encoded `FileDescriptorSet` of our `immudb.schema` (imports included).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/immudb_descriptor.bin"));
}

/// `umadb.v1`: the DCB event-store messages and the `DCB` server trait and client.
pub mod umadb {
    #![allow(clippy::all, missing_docs, non_camel_case_types)]
    tonic::include_proto!("umadb.v1");
}

/// `grpc.health.v1`: the standard health service.
pub mod health {
    #![allow(clippy::all, missing_docs, non_camel_case_types)]
    tonic::include_proto!("grpc.health.v1");
}

/// Largest message either side of an immudb connection sends or accepts (immudb's
/// `MaxRecvMsgSize`): 32 MiB.
pub const MAX_MESSAGE_SIZE: usize = 32 << 20;
