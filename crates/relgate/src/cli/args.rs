//! The command line's arguments: the clap types of `cargo xtask gate …` and `cargo gate …`
//! (one `GateCommand` for both), and the command each way of running it starts from.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `cargo xtask …`: the xtask pattern, whose one relgate subcommand is `gate`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Project automation: the release security gate (relgate)"
)]
pub(super) struct XtaskCli {
    #[command(subcommand)]
    pub command: XtaskCommand,
}

/// The subcommands of [`XtaskCli`].
#[derive(Debug, Subcommand)]
pub(super) enum XtaskCommand {
    /// Run the release security gate (see `cargo xtask gate --help`).
    Gate(Box<GateCommand>),
}

/// `cargo gate …` (cargo runs `cargo-gate gate …`): [`GateCommand`] as the whole command line.
pub(super) fn cargo_gate_command() -> clap::Command {
    GateCommand::augment_args(clap::Command::new("cargo-gate"))
        .bin_name("cargo gate")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Run the release security gate (relgate): every check of the gate file as a test case, evidence in a hash-chained ledger, a verdict and the reports")
}

// `cargo xtask gate` / `cargo gate`: a run, or one of the other actions. (No doc comment here:
// it would become the command's `about`, which each way of running sets itself.)
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Exit codes: 0 = GO or GO_WITH_CONDITIONS, 1 = NO_GO (or GO_WITH_CONDITIONS with --deny-conditions), 2 = invalid gate file or arguments, or the out directory is in use by another run.\nlibtest arguments go after `--`: a name filter, --exact, --list, --skip NAME, --test-threads N."
)]
pub(super) struct GateCommand {
    #[command(subcommand)]
    pub action: Option<GateAction>,
    #[command(flatten)]
    pub run: RunArgs,
}

// The flags of a run (no doc comment: it would become help text).
#[derive(Debug, Args)]
pub(super) struct RunArgs {
    /// The gate file.
    #[arg(long, default_value = "packets.toml")]
    pub gate: PathBuf,
    /// Where evidence and reports go.
    #[arg(long, default_value = "target/gate")]
    pub out: PathBuf,
    /// Run only this packet (repeatable); the verdict of a partial run is not a release verdict.
    #[arg(long = "packet", value_name = "ID")]
    pub packets: Vec<String>,
    /// How many checks run at once (default: number of cores).
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Exit 1 on GO_WITH_CONDITIONS.
    #[arg(long)]
    pub deny_conditions: bool,
    /// Print plain start/end lines instead of the live status line (the default off a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// Do not install missing tools: only probe them (a check needing a missing tool is an
    /// ERROR naming it and its install command).
    #[arg(long)]
    pub no_setup: bool,
    /// Sign the attestation with this ed25519 private key (OpenSSH or PKCS#8 PEM, unencrypted)
    /// into attestation.intoto.dsse.json [default: $RELGATE_SIGNING_KEY].
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Standard libtest arguments, after `--`.
    #[arg(last = true, value_name = "LIBTEST ARGS")]
    pub libtest: Vec<String>,
}

// The actions besides a run.
#[derive(Debug, Subcommand)]
pub(super) enum GateAction {
    /// Check the evidence: the signature (with --trusted-key), the ledger chain and every log,
    /// the attestation against the ledger, the verdict recomputed from the records, every report
    /// re-rendered; exit 1 on any mismatch, 2 on bad arguments.
    Verify {
        /// The out directory holding evidence.jsonl.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
        /// Require a DSSE signature by this ed25519 public key (an `ssh-ed25519 AAAA…` line or a
        /// PEM public key file); repeatable: any one of them.
        #[arg(long = "trusted-key", value_name = "PUB")]
        trusted_keys: Vec<PathBuf>,
        /// Fail unless the run was made on this commit (a full SHA, or a revision `git rev-parse`
        /// resolves in the current directory).
        #[arg(long, value_name = "REV")]
        expect_commit: Option<String>,
        /// Recompute the verdict with this gate file instead of the out directory's copy (needed
        /// when the run could not store one).
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
    },
    /// Rebuild the verdict and reports from the last run's evidence fragments (after nextest);
    /// exit 1, without a verdict, when the evidence journal or a log was altered.
    Report {
        /// The gate file.
        #[arg(long, default_value = "packets.toml")]
        gate: PathBuf,
        /// The out directory.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
        /// Exit 1 on GO_WITH_CONDITIONS.
        #[arg(long)]
        deny_conditions: bool,
        /// Sign the attestation with this ed25519 private key [default: $RELGATE_SIGNING_KEY].
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
    },
    /// Join the out directories of the shards a gate was split into (`cargo nextest run -p
    /// gate-tests --partition slice:M/N` on each machine) into one run: every shard's evidence
    /// is verified, the shards must come from one commit, one gate file and one split, and a
    /// trial no shard finished is a FAIL "no evidence"; then one ledger, verdict, set of
    /// reports and attestation. Exit codes as for a run.
    Merge {
        /// The shards' out directories.
        #[arg(required = true, value_name = "DIR")]
        shards: Vec<PathBuf>,
        /// The gate file.
        #[arg(long, default_value = "packets.toml")]
        gate: PathBuf,
        /// The out directory of the merged run.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
        /// Exit 1 on GO_WITH_CONDITIONS.
        #[arg(long)]
        deny_conditions: bool,
        /// Sign the attestation with this ed25519 private key [default: $RELGATE_SIGNING_KEY].
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
        /// Every shard must be a finished run (`gate report` in its job) signed by one of
        /// these keys (`ssh-ed25519` lines or PEM public keys; repeatable).
        #[arg(long = "trusted-key", value_name = "FILE")]
        trusted_keys: Vec<PathBuf>,
    },
    /// Sign a finished run's attestation in a step of its own, so that no check ever runs in a
    /// process that holds the key: the out directory is verified first (exit 1 if it does not
    /// verify), then its statement is signed as a DSSE envelope.
    Sign {
        /// The out directory of the run.
        #[arg(long, default_value = "target/gate")]
        out: PathBuf,
        /// The ed25519 private key [default: $RELGATE_SIGNING_KEY].
        #[arg(long, value_name = "FILE")]
        sign_key: Option<PathBuf>,
        /// The gate file, when the run could not store its copy (see `verify --gate`).
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
    },
    /// Approve packets of a finished run: a review record bound to the code, the packets'
    /// definitions and their outcomes, signed with your SSH key into the reviews directory
    /// (commit it). The run must verify and be of the code checked out now; exit 1 otherwise,
    /// 2 on bad arguments, gate file, key or allowed signers file
    Approve {
        /// The packets approved.
        #[arg(required = true, value_name = "PACKET")]
        packets: Vec<String>,
        #[command(flatten)]
        review: ReviewArgs,
        /// A note for the review record.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Request changes to a packet of a finished run: a signed review record with your
    /// findings (exit codes as `approve`)
    RequestChanges {
        /// The packet.
        #[arg(value_name = "PACKET")]
        packet: String,
        #[command(flatten)]
        review: ReviewArgs,
        /// What must change (repeatable: one finding each).
        #[arg(long, required = true)]
        reason: Vec<String>,
    },
    /// Turn a hand-kept Markdown tracker into a packets.toml, printed on stdout (notes on
    /// stderr); what it cannot map is kept as comments.
    Import {
        /// The Markdown tracker.
        tracker: PathBuf,
        /// Write the gate file here instead of printing it.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite the --output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// The setup step alone: probe every `[[tool]]` of the gate file, install what is missing,
    /// probe again; exit 0 when all are there, 1 when one is still missing (named, with the
    /// command that installs it), 2 on a bad gate file.
    Setup {
        /// The gate file.
        #[arg(long, default_value = "packets.toml")]
        gate: PathBuf,
        /// Where the probe and install logs go (not an out directory: the setup step of a
        /// machine is no run's evidence; a run logs its own setup into its out directory).
        #[arg(long, default_value = "target/gate-setup")]
        logs: PathBuf,
        /// Only this tool (repeatable).
        #[arg(long = "tool", value_name = "NAME")]
        tools: Vec<String>,
        /// Only probe: install nothing.
        #[arg(long)]
        check: bool,
    },
    /// Write a starter gate for the project in the gate file's directory: build, tests, lints and
    /// audits for the Cargo workspace, package-lock.json or go.mod it finds, greps over
    /// Dockerfiles and GitHub workflows, the secrets probe (a generic starter when it finds none).
    Init {
        /// The gate file to write; its directory is the project looked at.
        #[arg(long, default_value = "packets.toml")]
        gate: PathBuf,
        /// Overwrite existing files (the gate file, and with --xtask the crates' files).
        #[arg(long)]
        force: bool,
        /// Also write the xtask and gate-tests crates, add them to the workspace members and add
        /// the `xtask` alias to .cargo/config.toml.
        #[arg(long)]
        xtask: bool,
        /// With --xtask: depend on relgate by path (a checkout's crates/relgate) instead of the
        /// published version.
        #[arg(long, value_name = "DIR", requires = "xtask")]
        relgate_path: Option<PathBuf>,
    },
}

/// Who reviews, and what: the options `approve` and `request-changes` share.
#[derive(Args, Debug)]
pub(super) struct ReviewArgs {
    /// The gate file.
    #[arg(long, default_value = "packets.toml")]
    pub gate: PathBuf,
    /// The out directory of the run reviewed.
    #[arg(long, default_value = "target/gate")]
    pub out: PathBuf,
    /// Your private SSH key (ed25519, unencrypted), the one you sign commits with.
    #[arg(long, value_name = "FILE", default_value = "~/.ssh/id_ed25519")]
    pub key: String,
    /// The identity to sign as [default: the one the allowed signers file lists for the key].
    #[arg(long = "as", value_name = "IDENTITY")]
    pub identity: Option<String>,
}
