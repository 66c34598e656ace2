//! The controls' samples: a canary per rule (a text holding one planted secret, the positive
//! control) and a clean sample no rule may report (the negative control), built from pieces at
//! run time by a small deterministic generator.
//!
//! **Invariant:** this file never holds a literal that one of the rules would report; the
//! canaries are assembled at run time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// A text holding one planted secret for `rule`, and that secret: the positive control. Built
/// from pieces at run time so that no source file holds a secret.
pub(crate) fn canary(rule: &str) -> Option<(String, String)> {
    let mut random = Random::seeded(rule);
    let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let base64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let url_safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let pem_body = |random: &mut Random, separator: &str| {
        (0..4)
            .map(|_| random.string(base64, 64))
            .collect::<Vec<_>>()
            .join(separator)
    };
    let (text, secret) = match rule {
        "aws-access-key-id" => {
            let secret = format!("{}{}", ["AK", "IA"].concat(), random.string(upper, 16));
            (format!("aws_access_key_id = {secret}\n"), secret)
        }
        "aws-secret-access-key" => {
            let secret = random.string(base64, 40);
            (format!("aws_secret_{}_key = {secret}\n", "access"), secret)
        }
        "gcp-service-account-key" => {
            let body = pem_body(&mut random, "\\n");
            let secret = format!("\\n{body}\\n");
            let text = format!(
                "{{\n  \"type\": \"{}\",\n  \"private_key\": \"-----BEGIN {} KEY-----{secret}-----END {} KEY-----\\n\"\n}}\n",
                ["service", "account"].join("_"),
                "PRIVATE",
                "PRIVATE"
            );
            (text, secret)
        }
        "gcp-api-key" => {
            let secret = format!("{}{}", ["AI", "za"].concat(), random.string(url_safe, 35));
            (format!("const key = '{secret}';\n"), secret)
        }
        "azure-storage-key" => {
            let secret = format!("{}==", random.string(base64, 86));
            let text = format!(
                "DefaultEndpointsProtocol=https;AccountName=canary;{}={secret};EndpointSuffix=core.windows.net\n",
                ["Account", "Key"].concat()
            );
            (text, secret)
        }
        "github-token" => {
            let secret = format!("{}{}", ["gh", "p_"].concat(), random.string(alnum, 36));
            (format!("GITHUB_TOKEN={secret}\n"), secret)
        }
        "gitlab-token" => {
            let secret = format!("{}{}", ["gl", "pat-"].concat(), random.string(alnum, 20));
            (
                format!("git remote set-url origin https://oauth2:{secret}@gitlab.invalid/x.git\n"),
                secret,
            )
        }
        "slack-token" => {
            let digits = "0123456789";
            let secret = format!(
                "{}-{}-{}-{}",
                ["xo", "xb"].concat(),
                random.string(digits, 12),
                random.string(digits, 12),
                random.string(alnum, 24)
            );
            (format!("slack: {secret}\n"), secret)
        }
        "slack-webhook" => {
            let secret = format!(
                "T{}/B{}/{}",
                random.string(upper, 10),
                random.string(upper, 10),
                random.string(alnum, 24)
            );
            (
                format!(
                    "curl -X POST https://{}/services/{secret}\n",
                    ["hooks", "slack", "com"].join(".")
                ),
                secret,
            )
        }
        "stripe-secret-key" => {
            let secret = format!("{}{}", ["sk", "_live_"].concat(), random.string(alnum, 32));
            (format!("Stripe.api_key = {secret}\n"), secret)
        }
        "private-key" => {
            let secret = pem_body(&mut random, "\n");
            let kind = ["RSA", "PRIVATE", "KEY"].join(" ");
            (
                format!("-----BEGIN {kind}-----\n{secret}\n-----END {kind}-----\n"),
                secret,
            )
        }
        "jwt" => {
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
            let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"relgate-canary","exp":4102444800}"#);
            let secret = format!("{header}.{claims}.{}", random.string(url_safe, 43));
            (format!("Authorization: {secret}\n"), secret)
        }
        "database-url-password" => {
            let secret = random.string(alnum, 20);
            (
                format!(
                    "DATABASE_URL={}://app:{secret}@db.internal:5432/app\n",
                    "postgres"
                ),
                secret,
            )
        }
        "url-password" => {
            let secret = format!("{}-{}", random.string(alnum, 8), random.string(alnum, 4));
            (
                format!("git clone https://ci:{secret}@git.internal/app.git\n"),
                secret,
            )
        }
        "generic-secret" => {
            let secret = random.string(alnum, 40);
            (format!("client_{} = \"{secret}\"\n", "secret"), secret)
        }
        "authorization-header" => {
            let secret = random.string(alnum, 32);
            (format!("Authorization: Bearer {secret}\n"), secret)
        }
        _ => return None,
    };
    Some((text, secret))
}

/// A text full of placeholders and near misses that no rule may report: the negative control.
pub(crate) fn clean_sample() -> String {
    [
        "password = \"changeme\"",
        "password = \"${DB_PASSWORD}\"",
        "api_key: \"<token>\"",
        "token = \"xxxxxxxxxxxxxxxxxxxxxxxx\"",
        "secret = \"your_secret_here_123\"",
        "client_secret = \"EXAMPLE-client-secret-0123456789abcdef\"",
        "token_url = \"https://auth.example.com/oauth2/token\"",
        "password_file = \"/run/secrets/db-password\"",
        "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
        "export API_TOKEN=$API_TOKEN",
        "let token = mint_token(&claims);",
        "rotate-secrets::checklist::keys-rotated-every-90-days",
        &format!("aws_access_key_id = {}IOSFODNN7EXAMPLE", "AKIA"),
        &format!("{}_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ghp"),
        &format!(
            "url = \"{}://user:password@localhost:5432/app\"",
            "postgres"
        ),
        &format!("url = \"{}://app:app@127.0.0.1/app\"", "postgres"),
        &format!("url = \"{}://app:${{PGPASSWORD}}@db/app\"", "postgres"),
        &format!(
            "-----BEGIN {} KEY-----\n...\n-----END {} KEY-----",
            "PRIVATE", "PRIVATE"
        ),
        &format!(
            "a file starting with -----BEGIN {} KEY----- is a key",
            "PRIVATE"
        ),
        "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "The token is refused with 401; the password is never logged.",
    ]
    .join("\n")
}

/// A small deterministic generator: canaries must be the same on every run, and random-looking
/// enough to pass the entropy checks (the keyword filter's tests draw their cases from it too).
pub(super) struct Random(u64);

impl Random {
    pub(super) fn seeded(seed: &str) -> Random {
        // FNV-1a of the rule id.
        let mut state: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in seed.bytes() {
            state = (state ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Random(state)
    }

    /// splitmix64.
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(super) fn string(&mut self, alphabet: &str, len: usize) -> String {
        let alphabet = alphabet.as_bytes();
        (0..len)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }
}
