//! `wxmsg`: WeChat message crypto from the command line.
//!
//! `decrypt` checks and opens a push body, `encrypt` writes an encrypted reply, `push` sends a push
//! to a URL exactly as WeChat would. Output goes to stdout only on success; any failed check prints
//! one line on stderr and exits with 1.

use clap::{Args, Parser, Subcommand};
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;
use wxcomponent::config::{COMPONENT_APPID, ENCODING_AES_KEY, TOKEN};
use wxcomponent::crypto::{self, AesKey, MessageCrypto, PushQuery};
use wxcomponent::{Clock, Secret, SystemClock};

/// Largest stdin accepted: a push body or a plaintext is never near this.
const STDIN_LIMIT: usize = crypto::MAX_BODY_LEN;

#[derive(Parser)]
#[command(
    name = "wxmsg",
    version,
    about = "WeChat message crypto: decrypt, encrypt and send pushes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify and decrypt a push body (the XML envelope) read from stdin; print the message.
    Decrypt {
        #[command(flatten)]
        keys: Keys,
        /// The push's `timestamp` query parameter.
        #[arg(long, env = "WXMSG_TIMESTAMP")]
        timestamp: String,
        /// The push's `nonce` query parameter.
        #[arg(long, env = "WXMSG_NONCE")]
        nonce: String,
        /// The push's `msg_signature` query parameter.
        #[arg(long, env = "WXMSG_MSG_SIGNATURE")]
        msg_signature: String,
    },
    /// Encrypt a plaintext read from stdin; print the encrypted reply envelope.
    Encrypt {
        #[command(flatten)]
        keys: Keys,
        /// The reply's TimeStamp.
        #[arg(long, env = "WXMSG_TIMESTAMP")]
        timestamp: String,
        /// The reply's Nonce.
        #[arg(long, env = "WXMSG_NONCE")]
        nonce: String,
        /// Exactly 16 ASCII characters used as the random prefix (for reproducible output).
        #[arg(long, env = "WXMSG_RANDOM16", value_parser = parse_random16)]
        random16: Option<Random16>,
    },
    /// POST a plaintext event read from stdin to URL as an encrypted WeChat push.
    Push {
        /// Where to POST, e.g. the authorization event URL.
        #[arg(long, env = "WXMSG_URL")]
        url: url::Url,
        #[command(flatten)]
        keys: Keys,
        /// Send to an authorizer's message URL (`<ToUserName>` envelope) instead of a component event.
        #[arg(long, env = "WXMSG_TO")]
        to: Option<String>,
    },
}

#[derive(Args)]
struct Keys {
    /// The message Token of the component.
    #[arg(long, env = TOKEN, hide_env_values = true)]
    token: String,
    /// The 43-character EncodingAESKey.
    #[arg(long, env = ENCODING_AES_KEY, hide_env_values = true)]
    aes_key: String,
    /// The component appid (the trailer of every plaintext).
    #[arg(long, env = COMPONENT_APPID)]
    appid: String,
}

impl Keys {
    fn crypto(&self) -> Result<MessageCrypto, Failure> {
        let key = AesKey::from_encoding_aes_key(&self.aes_key)
            .map_err(|e| Failure(format!("--aes-key: {e}")))?;
        Ok(MessageCrypto::new(
            Secret::new(self.token.clone()),
            self.appid.clone(),
            key,
            None,
        ))
    }
}

#[derive(Clone, Copy)]
struct Random16([u8; 16]);

fn parse_random16(s: &str) -> Result<Random16, String> {
    if !s.is_ascii() {
        return Err("must be 16 ASCII characters".into());
    }
    let bytes: [u8; 16] = s
        .as_bytes()
        .try_into()
        .map_err(|_| format!("must be exactly 16 ASCII characters, got {}", s.len()))?;
    Ok(Random16(bytes))
}

/// A one-line reason for exit code 1. Never holds a secret or a message body.
struct Failure(String);

impl From<crypto::CryptoError> for Failure {
    fn from(e: crypto::CryptoError) -> Self {
        Failure(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(reason)) => {
            eprintln!("wxmsg: {reason}");
            ExitCode::from(1)
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Decrypt {
            keys,
            timestamp,
            nonce,
            msg_signature,
        } => {
            let crypto = keys.crypto()?;
            let body = read_stdin()?;
            let query = PushQuery {
                timestamp: Some(timestamp),
                nonce: Some(nonce),
                msg_signature: Some(msg_signature),
                ..PushQuery::default()
            };
            let plaintext = crypto.decrypt_push(&query, &body)?;
            write_stdout(plaintext.as_bytes())
        }
        Command::Encrypt {
            keys,
            timestamp,
            nonce,
            random16,
        } => {
            let crypto = keys.crypto()?;
            let plaintext = stdin_text()?;
            let random16 = random16.map_or_else(crypto::random16, |r| r.0);
            let reply = crypto.encrypt_reply(&plaintext, &timestamp, &nonce, &random16)?;
            write_stdout(reply.as_bytes())
        }
        Command::Push { url, keys, to } => {
            let crypto = keys.crypto()?;
            let plaintext = stdin_text()?;
            push(&crypto, url, &plaintext, to.as_deref())
        }
    }
}

fn push(
    crypto: &MessageCrypto,
    url: url::Url,
    plaintext: &str,
    to: Option<&str>,
) -> Result<(), Failure> {
    let timestamp = SystemClock.now().to_string();
    let nonce = crypto::random_nonce();
    let outgoing = crypto.build_push(plaintext, &timestamp, &nonce, &crypto::random16(), to)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the async runtime: {e}")))?;
    let (status, body) = runtime
        .block_on(async {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()?;
            let response = client
                .post(url)
                .query(&outgoing.query)
                .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
                .body(outgoing.body)
                .send()
                .await?;
            let status = response.status();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        })
        // reqwest errors print the URL, which carries the signatures: drop it.
        .map_err(|e| Failure(format!("request failed: {}", e.without_url())))?;

    let mut out = format!("status: {}\n", status.as_u16());
    out.push_str("body:\n");
    out.push_str(&String::from_utf8_lossy(&body));
    out.push('\n');
    // Only an envelope with <Encrypt> is a reply to open; `success` or an empty body is not.
    if crypto::parse_envelope(&body).is_ok() {
        let reply = crypto.decrypt_reply(&body).map_err(|e| {
            Failure(format!(
                "the response is an encrypted reply that failed a check: {e}"
            ))
        })?;
        out.push_str("plaintext:\n");
        out.push_str(&reply);
        out.push('\n');
    }
    write_stdout(out.as_bytes())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure(format!(
            "the server answered HTTP {}",
            status.as_u16()
        )))
    }
}

fn read_stdin() -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    std::io::stdin()
        .lock()
        .take(STDIN_LIMIT as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure(format!("cannot read stdin: {e}")))?;
    if buf.len() > STDIN_LIMIT {
        return Err(Failure(format!(
            "stdin exceeds the {STDIN_LIMIT} byte limit"
        )));
    }
    Ok(buf)
}

fn stdin_text() -> Result<String, Failure> {
    String::from_utf8(read_stdin()?).map_err(|_| Failure("stdin is not UTF-8".into()))
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure(format!("cannot write stdout: {e}")))
}
