//! The `tenant-api` command line: parse flags, read keys, run the service.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use tenant_api::jwt::{ExtraEcKey, JwtSettings, PartnerKey};
use tenant_api::{Flaw, Flaws, ServiceConfig};

/// Exit code for a clean shutdown or `--list-flaws`.
const EXIT_OK: u8 = 0;
/// Exit code for a runtime failure (database, bind).
const EXIT_FAILURE: u8 = 1;
/// Exit code for invalid input (flags, key files); clap uses it for usage errors too.
const EXIT_INVALID_INPUT: u8 = 2;

/// Reference multi-tenant API over PostgreSQL for relgate's probes.
// Not `Debug`: it holds the app role's password and possibly a password in the URL.
#[derive(Parser)]
#[command(name = "tenant-api", version)]
struct Cli {
    /// Connection string of the database owner (migrations run as this user).
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        required_unless_present = "list_flaws"
    )]
    database_url: Option<String>,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "TENANT_API_LISTEN", default_value = "127.0.0.1:0")]
    listen: String,

    /// Switch on a known weakness (repeatable); see --list-flaws.
    #[arg(long = "flaw", value_name = "NAME", value_parser = parse_flaw)]
    flaws: Vec<Flaw>,

    /// Insert the deterministic demo data (idempotent).
    #[arg(long, env = "TENANT_API_SEED")]
    seed: bool,

    /// Required `iss` claim.
    #[arg(long, env = "TENANT_API_ISSUER", default_value = "https://issuer.test")]
    issuer: String,

    /// Required `aud` claim.
    #[arg(long, env = "TENANT_API_AUDIENCE", default_value = "tenant-api")]
    audience: String,

    /// Required `azp` claim; not checked when absent.
    #[arg(long, env = "TENANT_API_AUTHORIZED_PARTY")]
    authorized_party: Option<String>,

    /// PEM public key for RS256 tokens [default: reference/keys/issuer-rs256.pub.pem].
    #[arg(long, env = "TENANT_API_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,

    /// PEM public key for ES256 tokens [default: reference/keys/issuer-es256.pub.pem].
    #[arg(long, env = "TENANT_API_JWT_ES256_PUBLIC_KEY")]
    jwt_es256_public_key: Option<PathBuf>,

    /// Required `typ` header of every token (an explicit type such as `at+jwt`); not checked
    /// when absent.
    #[arg(long, env = "TENANT_API_TOKEN_TYPE")]
    token_type: Option<String>,

    /// PEM public key of a partner issuer, trusted for RS256 tokens whose `kid` is
    /// --partner-kid and whose `aud` is --partner-audience, and for nothing else.
    #[arg(long, env = "TENANT_API_PARTNER_KEY")]
    partner_key: Option<PathBuf>,

    /// `kid` that selects the partner key.
    #[arg(long, env = "TENANT_API_PARTNER_KID", default_value = "partner")]
    partner_kid: String,

    /// The only `aud` the partner key may sign for.
    #[arg(
        long,
        env = "TENANT_API_PARTNER_AUDIENCE",
        default_value = "partner-api"
    )]
    partner_audience: String,

    /// PEM public key of a second EC key (e.g. P-384), selected by a token's `kid`
    /// --extra-ec-kid; only ES256 tokens are verified with it, like with the issuer's.
    #[arg(long, env = "TENANT_API_EXTRA_EC_KEY")]
    extra_ec_key: Option<PathBuf>,

    /// `kid` that selects the extra EC key.
    #[arg(long, env = "TENANT_API_EXTRA_EC_KID", default_value = "es384")]
    extra_ec_kid: String,

    /// File holding the `whsec_…` webhook secret [default: reference/keys/webhook-secret.txt].
    #[arg(long, env = "TENANT_API_WEBHOOK_SECRET_FILE")]
    webhook_secret_file: Option<PathBuf>,

    /// Login role the service creates and connects as.
    #[arg(long, env = "TENANT_API_APP_ROLE", default_value = "tenant_app", value_parser = parse_role)]
    app_role: String,

    /// Password for the app role [default: random at each start].
    #[arg(long, env = "TENANT_API_APP_PASSWORD", hide_env_values = true)]
    app_password: Option<String>,

    /// Worker threads, and database connections in the pool.
    #[arg(long, env = "TENANT_API_WORKERS", default_value_t = 8)]
    workers: usize,

    /// Print every flaw as `name<TAB>description` and exit.
    #[arg(long)]
    list_flaws: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.list_flaws {
        for flaw in Flaw::ALL {
            println!("{}\t{}", flaw.name(), flaw.description());
        }
        return ExitCode::from(EXIT_OK);
    }
    let config = match service_config(cli) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_INVALID_INPUT);
        }
    };
    match tenant_api::run(config) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(if error.is_invalid_input() {
                EXIT_INVALID_INPUT
            } else {
                EXIT_FAILURE
            })
        }
    }
}

fn service_config(cli: Cli) -> Result<ServiceConfig, String> {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys");
    let rs256 = cli
        .jwt_public_key
        .unwrap_or_else(|| keys.join("issuer-rs256.pub.pem"));
    let es256 = cli
        .jwt_es256_public_key
        .unwrap_or_else(|| keys.join("issuer-es256.pub.pem"));
    let webhook = cli
        .webhook_secret_file
        .unwrap_or_else(|| keys.join("webhook-secret.txt"));
    let read = |path: &Path| {
        std::fs::read(path).map_err(|error| format!("failed to read {}: {error}", path.display()))
    };
    let webhook_secret = String::from_utf8(read(&webhook)?)
        .map_err(|_| format!("{} is not UTF-8", webhook.display()))?;
    Ok(ServiceConfig {
        database_url: cli
            .database_url
            .ok_or("--database-url or DATABASE_URL is required")?,
        listen: cli.listen,
        flaws: cli.flaws.into_iter().collect::<Flaws>(),
        seed: cli.seed,
        jwt: JwtSettings {
            issuer: cli.issuer,
            audience: cli.audience,
            authorized_party: cli.authorized_party,
            rs256_public_pem: read(&rs256)?,
            es256_public_pem: read(&es256)?,
            token_type: cli.token_type,
            partner: match &cli.partner_key {
                Some(path) => Some(PartnerKey {
                    kid: cli.partner_kid,
                    audience: cli.partner_audience,
                    public_pem: read(path)?,
                }),
                None => None,
            },
            extra_ec: match &cli.extra_ec_key {
                Some(path) => Some(ExtraEcKey {
                    kid: cli.extra_ec_kid,
                    public_pem: read(path)?,
                }),
                None => None,
            },
        },
        webhook_secret,
        app_role: cli.app_role,
        app_password: cli.app_password,
        workers: cli.workers.max(1),
    })
}

fn parse_flaw(name: &str) -> Result<Flaw, String> {
    name.parse::<Flaw>().map_err(|error| error.to_string())
}

/// Role names are spliced into DDL, so only plain lowercase identifiers are accepted.
fn parse_role(name: &str) -> Result<String, String> {
    let mut chars = name.chars();
    let plain_start = chars
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first == '_');
    let plain_rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain_start && plain_rest && name.len() <= 63 {
        Ok(name.to_owned())
    } else {
        Err("expected a lowercase identifier: [a-z_][a-z0-9_]{0,62}".to_owned())
    }
}
