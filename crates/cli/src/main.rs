//! `stele`: the one binary.
//!
//! Every command works on an embedded database (a sub-directory of `--data-dir`) or, with
//! `--server HOST:PORT`, against a server over immudb's API: the same commands, the same
//! output. `serve` runs the server. Remote verified commands (`vset`, `vget`, `vtx`,
//! `verify --server`) check every proof here against the trusted state kept per server and
//! database in the user's state directory. Every flag can also be given as a `STELE_*`
//! environment variable.
//!
//! - [`remote`]: the commands over gRPC (stele-client), admin commands included.
//! - `embedded`: the commands on a data directory, and `serve` (the `embedded` feature).
//! - [`shell`]: `stele sql`, one shell over either kind of SQL session.
//! - [`table`]: results as aligned tables, CSV or JSON.
//! - [`output`]: the lines of the key/value and slt commands, the same in both modes.
//! - [`progress`]: the progress line of long walks.
//!
//! Without the `embedded` feature this is a client only: it links stele-proto and stele-proof,
//! never RocksDB or DataFusion.

#[cfg(feature = "embedded")]
mod embedded;
mod output;
mod progress;
mod remote;
mod shell;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "stele",
    version,
    about = "Stele: an immutable, verifiable ledger database"
)]
pub struct Cli {
    /// Directory holding the databases (one sub-directory each).
    #[arg(long, global = true, env = "STELE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Database the commands work on.
    #[arg(long, global = true, env = "STELE_DB", default_value = "defaultdb", value_parser = db_name)]
    db: String,
    /// Work against the server at HOST:PORT instead of a data directory.
    #[arg(long, global = true, env = "STELE_SERVER")]
    server: Option<String>,
    /// User to log in as (with --server); the password comes from STELE_PASSWORD or a prompt.
    #[arg(long, global = true, env = "STELE_USER", default_value = "immudb")]
    user: String,
    /// CA certificate (PEM) to trust: connect with TLS (with --server).
    #[arg(long, global = true, env = "STELE_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// Name to check the server's certificate against (default: the host of --server).
    #[arg(long, global = true, env = "STELE_TLS_DOMAIN")]
    tls_domain: Option<String>,
    /// The server's public key (PEM): verified answers and states must carry its signature.
    #[arg(long, global = true, env = "STELE_SERVER_KEY")]
    server_key: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gRPC server (immudb 1.9.3's protocol) until SIGINT or SIGTERM.
    Serve(Box<ServeArgs>),
    /// Print the current tx id and state hash (Alh); with --server also the trusted state.
    State,
    /// Check the whole history: on a data directory every hash is recomputed; with --server
    /// every tx is fetched with its values and proved against the trusted state.
    Verify {
        /// First tx to check (with --server).
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Last tx to check (with --server; default: the server's last).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Write a key.
    Set { key: String, value: String },
    /// Read a key (latest, at a tx, or at a revision).
    Get {
        key: String,
        #[arg(long, conflicts_with = "revision")]
        at_tx: Option<u64>,
        #[arg(long, allow_hyphen_values = true)]
        revision: Option<i64>,
    },
    /// Delete a key (its history stays).
    Delete { key: String },
    /// Every version of a key.
    History {
        key: String,
        #[arg(long)]
        desc: bool,
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Live keys under a prefix.
    Scan {
        prefix: Option<String>,
        #[arg(long)]
        desc: bool,
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Show a transaction's header and keys.
    Tx { id: u64 },
    /// Make KEY refer to REFERENCED (to its version at --at-tx, else its latest).
    Ref {
        key: String,
        referenced: String,
        #[arg(long)]
        at_tx: Option<u64>,
    },
    /// Add KEY to the sorted set SET with SCORE.
    Zadd {
        set: String,
        #[arg(allow_hyphen_values = true)]
        score: f64,
        key: String,
        #[arg(long)]
        at_tx: Option<u64>,
    },
    /// Members of a sorted set by score.
    Zscan {
        set: String,
        #[arg(long, allow_hyphen_values = true)]
        min: Option<f64>,
        #[arg(long, allow_hyphen_values = true)]
        max: Option<f64>,
        #[arg(long)]
        desc: bool,
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Write a key and prove the write against the trusted state (with --server).
    Vset { key: String, value: String },
    /// Read a key and prove it against the trusted state (with --server).
    Vget {
        key: String,
        #[arg(long, conflicts_with = "revision")]
        at_tx: Option<u64>,
        #[arg(long, allow_hyphen_values = true)]
        revision: Option<i64>,
    },
    /// Read a transaction and prove it against the trusted state (with --server).
    Vtx { id: u64 },
    /// Make a reference and prove the write (with --server).
    Vref {
        key: String,
        referenced: String,
        #[arg(long)]
        at_tx: Option<u64>,
    },
    /// Add to a sorted set and prove the write (with --server).
    Vzadd {
        set: String,
        #[arg(allow_hyphen_values = true)]
        score: f64,
        key: String,
    },
    /// SQL (immudb's dialect): a shell on a terminal; otherwise the arguments (or -e) as one
    /// request, or stdin's statements, each ending with ';', in one session.
    Sql(SqlArgs),
    /// Run sqllogictest files, each on a fresh database (with --server: one the runner
    /// creates on the server and deletes after).
    Slt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Rewrite each file with the answers as its expectations (rows, ok, error texts).
        #[arg(long)]
        complete: bool,
    },
    /// Users and their permissions (with --server).
    #[command(subcommand)]
    User(UserCommand),
    /// Databases (with --server).
    #[command(subcommand)]
    Database(DatabaseCommand),
    /// The server's version, uptime, databases and sizes (with --server).
    Status,
}

#[derive(clap::Args)]
pub struct SqlArgs {
    /// Statements to run as one request (without them, and without -e, stdin or a shell).
    statements: Vec<String>,
    /// A request to run (as the positional statements).
    #[arg(short = 'e', long = "execute")]
    execute: Option<String>,
    /// How results print.
    #[arg(long, value_enum, default_value_t = table::Format::Table)]
    format: table::Format,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user with a permission on a database (password from STELE_NEW_PASSWORD or a
    /// prompt).
    Create {
        name: String,
        /// read, readwrite or admin.
        #[arg(long, default_value = "read")]
        permission: String,
        /// The database the permission is on (default: --db).
        #[arg(long)]
        database: Option<String>,
    },
    /// List users and their permissions.
    List,
    /// Change a user's password (new password from STELE_NEW_PASSWORD or a prompt).
    Password { name: String },
    /// Grant or revoke a permission on a database.
    Permission {
        /// grant or revoke.
        #[arg(value_parser = ["grant", "revoke"])]
        action: String,
        name: String,
        /// read, readwrite or admin.
        permission: String,
        /// The database (default: --db).
        #[arg(long)]
        database: Option<String>,
    },
    /// Activate (or, with --off, deactivate) a user.
    Activate {
        name: String,
        #[arg(long)]
        off: bool,
    },
}

#[derive(Subcommand)]
pub enum DatabaseCommand {
    /// Create a database.
    Create {
        name: String,
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List databases with their state and sizes.
    List,
    /// Load a database that was unloaded.
    Load { name: String },
    /// Unload a database (it stays on disk).
    Unload { name: String },
    /// Delete an unloaded database and its data.
    Delete { name: String },
    /// Show the settings of --db.
    Settings,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (loopback unless you mean otherwise).
    #[arg(long, env = "STELE_LISTEN", default_value = "127.0.0.1:3322")]
    pub listen: std::net::SocketAddr,
    /// ECDSA P-256 private key (PEM) to sign states and verified answers with.
    #[arg(long, env = "STELE_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// TLS certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "STELE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, env = "STELE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The superuser `immudb`'s password when the data directory is first created.
    #[arg(
        long,
        env = "STELE_ADMIN_PASSWORD",
        default_value = "immudb",
        hide_env_values = true
    )]
    pub admin_password: String,
    /// Most threads for blocking work (commits, reads, SQL): bounds what many clients cost.
    #[arg(long, env = "STELE_BLOCKING_THREADS", default_value_t = 64)]
    pub blocking_threads: usize,
    /// Address of the DCB event-store service (UmaDB's protocol; UMADB_LISTEN is read too).
    #[arg(long, env = "STELE_DCB_LISTEN")]
    pub dcb_listen: Option<std::net::SocketAddr>,
    /// Do not serve the DCB event-store service.
    #[arg(long, conflicts_with_all = ["dcb_listen", "dcb_api_key"])]
    pub no_dcb: bool,
    /// API key every DCB call must carry as `authorization: Bearer KEY` (UMADB_API_KEY is read
    /// too).
    #[arg(long, env = "STELE_DCB_API_KEY", hide_env_values = true)]
    pub dcb_api_key: Option<String>,
}

fn db_name(s: &str) -> Result<String, String> {
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "invalid database name {s:?}: use ASCII letters, digits, '_' and '-'"
        ));
    }
    Ok(s.to_string())
}

/// The commands that exist only against a server.
fn remote_only(c: &Command) -> Option<&'static str> {
    Some(match c {
        Command::Vset { .. } => "vset",
        Command::Vget { .. } => "vget",
        Command::Vtx { .. } => "vtx",
        Command::Vref { .. } => "vref",
        Command::Vzadd { .. } => "vzadd",
        Command::User(_) => "user",
        Command::Database(_) => "database",
        Command::Status => "status",
        _ => return None,
    })
}

fn run(cli: Cli) -> Result<(), String> {
    if cli.server.is_some() {
        if matches!(cli.command, Command::Serve(_)) {
            return Err("serve runs a server; it takes --listen, not --server".into());
        }
        return remote::run(cli);
    }
    if let Some(name) = remote_only(&cli.command) {
        return Err(format!(
            "{name} works against a server: give --server HOST:PORT (or STELE_SERVER)"
        ));
    }
    #[cfg(feature = "embedded")]
    return embedded::run(cli);
    #[cfg(not(feature = "embedded"))]
    Err("this build is a client only (built without the `embedded` feature): give --server HOST:PORT".into())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
