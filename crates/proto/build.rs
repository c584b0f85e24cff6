//! Compiles our `.proto` files with protox (pure Rust: no system `protoc`) and generates the
//! prost messages and tonic services from the descriptor set, which is also kept (encoded) for
//! the test that compares it with the descriptor immudb's own client ships.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    let immudb = protox::compile(["immudb/schema.proto"], ["proto"])?;
    std::fs::write(out.join("immudb_descriptor.bin"), immudb.encode_to_vec())?;
    // UmaDB's DCB service and the standard health service it is served with.
    let dcb = protox::compile(
        ["umadb/v1/umadb.proto", "grpc/health/v1/health.proto"],
        ["proto"],
    )?;
    for fds in [immudb, dcb] {
        tonic_prost_build::configure()
            .build_client(true)
            .build_server(true)
            // Clients are generic over their channel; a binary that connects enables tonic's own.
            .build_transport(false)
            .compile_fds(fds)?;
    }
    Ok(())
}
