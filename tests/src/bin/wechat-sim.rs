//! `wechat-sim`: the WeChat simulator as a standalone server on 127.0.0.1, for local runs and
//! scripts. Prints `listening on http://127.0.0.1:PORT/` once ready; control it over `/__sim/...`.

use clap::Parser;
use wxcomponent_tests::sim::{SimConfig, WechatSim};

/// A loopback WeChat (third-party platform APIs) for local runs and tests.
///
/// Control routes: GET/DELETE /__sim/calls, GET /__sim/unmatched, POST/DELETE /__sim/faults,
/// POST /__sim/ticket, POST /__sim/authorize, POST /__sim/authorizers,
/// DELETE /__sim/authorizers/{appid}, GET /__sim/messages, GET /__sim/component-token,
/// PUT /__sim/push-targets, POST /__sim/push/{kind}, POST /__sim/templates,
/// PUT /__sim/audit-outcomes/{appid}, PUT /__sim/audit-quota, PUT /__sim/func-info/{appid},
/// GET /__sim/code/{appid}, GET /__sim/call-count?path=&appid=, GET /__sim/overlap-refusals,
/// POST /__sim/audits/deliver.
///
/// Audits are decided on the system clock and pushed to the message URL by a background task
/// (every 500 ms).
#[derive(Debug, Parser)]
#[command(name = "wechat-sim", version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The component appid the sim accepts.
    #[arg(long, env = "WECHAT_COMPONENT_APPID")]
    appid: String,
    /// The component appsecret the sim accepts.
    #[arg(long, env = "WECHAT_COMPONENT_SECRET", hide_env_values = true)]
    secret: String,
    /// The message Token, for signing pushes.
    #[arg(
        long,
        env = "WECHAT_TOKEN",
        hide_env_values = true,
        default_value = "sim-message-token"
    )]
    token: String,
    /// The 43-character EncodingAESKey, for encrypting pushes.
    #[arg(
        long,
        env = "WECHAT_ENCODING_AES_KEY",
        hide_env_values = true,
        default_value = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    )]
    aes_key: String,
    /// A ticket the sim knows from the start (api_component_token accepts it).
    #[arg(long, hide_env_values = true)]
    ticket: Option<String>,
    /// Lifetime of component tokens, in seconds.
    #[arg(long, default_value_t = 7200)]
    component_token_expires_in: i64,
    /// Lifetime of authorizer tokens, in seconds.
    #[arg(long, default_value_t = 7200)]
    authorizer_token_expires_in: i64,
    /// Lifetime of pre-auth codes, in seconds.
    #[arg(long, default_value_t = 1800)]
    pre_auth_code_expires_in: i64,
    /// Lifetime of auth codes, in seconds.
    #[arg(long, default_value_t = 600)]
    auth_code_expires_in: i64,
    /// How long a superseded token keeps working, in seconds.
    #[arg(long, default_value_t = 300)]
    token_overlap: i64,
    /// Hand out a new refresh token on every api_authorizer_token.
    #[arg(long)]
    rotate_refresh_tokens: bool,
    /// How long the privacy check of committed code runs, in seconds (submit_audit answers
    /// 61039 until then).
    #[arg(long, default_value_t = 60)]
    privacy_check_delay: i64,
    /// How long after submit_audit the reviewers decide, in seconds.
    #[arg(long, default_value_t = 3600)]
    audit_delay: i64,
    /// The component's monthly audit quota (85085 once spent).
    #[arg(long, default_value_t = 1000)]
    audit_quota: i64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = SimConfig::new(args.appid, args.secret);
    config.token = args.token;
    config.encoding_aes_key = args.aes_key;
    config.component_token_expires_in = args.component_token_expires_in;
    config.authorizer_token_expires_in = args.authorizer_token_expires_in;
    config.pre_auth_code_expires_in = args.pre_auth_code_expires_in;
    config.auth_code_expires_in = args.auth_code_expires_in;
    config.token_overlap = args.token_overlap;
    config.rotate_refresh_tokens = args.rotate_refresh_tokens;
    config.privacy_check_delay = args.privacy_check_delay;
    config.audit_delay = args.audit_delay;
    config.audit_quota = args.audit_quota;

    let sim = WechatSim::start_with_system_clock(config, args.port).await?;
    if let Some(ticket) = args.ticket {
        sim.set_ticket(&ticket);
    }
    println!("listening on {}", sim.base_url());
    // Serve until the process is stopped.
    std::future::pending::<()>().await;
    Ok(())
}
