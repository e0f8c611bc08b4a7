//! Log set-up for the functions and tools: `RUST_LOG`-style filtering with hard caps on the crates
//! that would otherwise print secrets.
//!
//! At TRACE the AWS SDK's request layer logs whole DynamoDB request and response bodies, which carry
//! tickets, tokens and refresh tokens; hyper and reqwest log connection details; the Lambda runtime
//! logs every raw invocation event, whose query strings carry auth codes (`/auth/callback`). Whatever level an
//! operator asks for, those targets are capped at INFO, so no setting of `RUST_LOG` or
//! `AWS_LAMBDA_LOG_LEVEL` can put a secret into a log line.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// Targets capped at INFO whatever the requested level.
pub const CAPPED_TARGETS: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sdk_dynamodb",
    "aws_config",
    "aws_sigv4",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
    "rustls",
    // `lambda_runtime::layers::api_response` traces the raw event ("raw JSON event received").
    "lambda_runtime",
    "lambda_http",
];

/// The filter for a requested level/directive string (e.g. `debug` or `info,wxcomponent=trace`).
/// Unparseable parts fall back to INFO; the caps are always applied last, so they win.
pub fn filter(requested: Option<&str>) -> EnvFilter {
    let requested = requested
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info");
    let mut filter = EnvFilter::builder()
        .with_default_directive(tracing::Level::INFO.into())
        .parse_lossy(requested.to_ascii_lowercase());
    for target in CAPPED_TARGETS {
        if let Ok(directive) = format!("{target}=info").parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Install the global subscriber: JSON lines when Lambda asks for JSON logs
/// (`AWS_LAMBDA_LOG_FORMAT=JSON`), readable text otherwise (local runs). The level comes from
/// `RUST_LOG`, else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else INFO. Calling it twice is harmless.
pub fn init() {
    let requested = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("AWS_LAMBDA_LOG_LEVEL"))
        .ok();
    let filter = filter(requested.as_deref());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .without_time()
            .try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

/// An error and its sources on one line, for a log field or a tool's stderr. Only for errors whose
/// texts carry no secret (every error type of this crate is written that way).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn captured(requested: &str) -> String {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(Some(requested)))
            .with_writer(capture.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "sdk-body-with-secret");
            tracing::debug!(target: "hyper_util::client", "hyper-detail-with-secret");
            tracing::info!(target: "aws_smithy_runtime::client", "sdk-info-line");
            tracing::trace!(target: "lambda_runtime::layers::api_response", "raw-event-with-auth-code");
            tracing::trace!(target: "wxcomponent::service", "own-trace-line");
        });
        let bytes = capture.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn trace_everywhere_still_keeps_the_sdk_and_http_layers_at_info() {
        let out = captured("trace");
        assert!(
            out.contains("own-trace-line"),
            "our own TRACE lines pass: {out}"
        );
        assert!(out.contains("sdk-info-line"));
        assert!(!out.contains("sdk-body-with-secret"));
        assert!(!out.contains("hyper-detail-with-secret"));
        assert!(!out.contains("raw-event-with-auth-code"));
    }

    #[test]
    fn asking_for_the_sdk_at_trace_by_name_is_capped_too() {
        let out = captured("trace,aws_smithy_runtime=trace,hyper_util=trace");
        assert!(!out.contains("sdk-body-with-secret"), "{out}");
        assert!(!out.contains("hyper-detail-with-secret"), "{out}");
        assert!(out.contains("sdk-info-line"));
    }

    #[test]
    fn an_error_chain_is_one_line_with_every_source() {
        let inner = std::io::Error::other("connection reset");
        let outer = std::io::Error::other(Wrapper(inner));
        assert_eq!(error_chain(&outer), "request failed: connection reset");
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);

    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("request failed")
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn nonsense_levels_fall_back_to_info() {
        let out = captured("loud-please");
        assert!(out.contains("sdk-info-line"));
        assert!(!out.contains("own-trace-line"));
    }
}
