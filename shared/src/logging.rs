//! Log set-up for the functions and tools: `RUST_LOG`-style filtering with hard caps on the crates
//! that would otherwise print secrets.
//!
//! At TRACE the AWS SDK's request layer logs whole DynamoDB request and response bodies, which carry
//! tickets, tokens and refresh tokens; hyper and reqwest log connection details; the Lambda runtime
//! logs every raw invocation event, whose query strings carry auth codes (`/auth/callback`). Whatever level an
//! operator asks for, those targets are capped at INFO, so no setting of `RUST_LOG` or
//! `AWS_LAMBDA_LOG_LEVEL` can put a secret into a log line.

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber, span};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Targets capped at INFO whatever the requested level. A cap covers every target that starts with
/// the name (`aws_smithy_runtime` covers `aws_smithy_runtime::client::orchestrator` and
/// `aws_smithy_runtime_api`).
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

/// The log filter: what was asked for (`RUST_LOG`-style directives) AND the caps. The caps are a
/// filter of their own, not directives added to the requested ones: in an [`EnvFilter`] a more
/// specific directive (`aws_smithy_runtime::client::orchestrator=trace`) or a span directive
/// (`[invoke]=trace`, which enables every event inside such spans) wins over `aws_smithy_runtime=info`.
/// Here an event is logged only if both filters let it through, so no directive can lift a cap.
pub struct LogFilter {
    requested: EnvFilter,
    caps: Targets,
}

impl LogFilter {
    /// Everything [`CAPPED_TARGETS`] at INFO at most, every other target at any level.
    fn caps() -> Targets {
        Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_targets(CAPPED_TARGETS.iter().map(|t| (*t, LevelFilter::INFO)))
    }
}

impl std::fmt::Debug for LogFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogFilter")
            .field("requested", &self.requested.to_string())
            .field("caps", &self.caps.to_string())
            .finish()
    }
}

/// Never if either says never, always if both say always.
fn both(a: Interest, b: Interest) -> Interest {
    if a.is_never() || b.is_never() {
        Interest::never()
    } else if a.is_always() && b.is_always() {
        Interest::always()
    } else {
        Interest::sometimes()
    }
}

impl<S: Subscriber> Layer<S> for LogFilter {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Both are asked: the EnvFilter registers span callsites for its span directives here.
        let requested = Layer::<S>::register_callsite(&self.requested, metadata);
        let caps = Layer::<S>::register_callsite(&self.caps, metadata);
        both(requested, caps)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        Layer::<S>::enabled(&self.caps, metadata, ctx.clone())
            && Layer::<S>::enabled(&self.requested, metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        match (
            Layer::<S>::max_level_hint(&self.requested),
            Layer::<S>::max_level_hint(&self.caps),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // The requested filter tracks spans for its span directives; the caps have none.
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        Layer::<S>::on_new_span(&self.requested, attrs, id, ctx);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        Layer::<S>::on_record(&self.requested, id, values, ctx);
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        Layer::<S>::on_enter(&self.requested, id, ctx);
    }

    fn on_exit(&self, id: &span::Id, ctx: Context<'_, S>) {
        Layer::<S>::on_exit(&self.requested, id, ctx);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        Layer::<S>::on_close(&self.requested, id, ctx);
    }
}

/// The filter for a requested level/directive string (e.g. `debug` or `info,wxcomponent=trace`).
/// Without a bare level among the parts, everything else logs at INFO (so `wxcomponent=debug`
/// keeps the other crates' INFO lines, and a nonsense value means INFO); unparseable parts are
/// dropped. The caps hold whatever is asked (see [`LogFilter`]).
pub fn filter(requested: Option<&str>) -> LogFilter {
    let requested = requested
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("info")
        .to_ascii_lowercase();
    let has_level = requested
        .split(',')
        .any(|part| part.trim().parse::<LevelFilter>().is_ok());
    let requested = if has_level {
        requested
    } else {
        format!("info,{requested}")
    };
    LogFilter {
        requested: EnvFilter::builder()
            .with_default_directive(tracing::Level::INFO.into())
            .parse_lossy(requested),
        caps: LogFilter::caps(),
    }
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
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .without_time()
                    .with_writer(std::io::stderr),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::io::stderr),
            )
            .try_init()
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
        let subscriber = tracing_subscriber::registry()
            .with(filter(Some(requested)))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(capture.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "sdk-body-with-secret");
            tracing::trace!(target: "aws_smithy_runtime_api::client::interceptors", "sdk-api-trace-with-secret");
            tracing::debug!(target: "hyper_util::client", "hyper-detail-with-secret");
            tracing::info!(target: "aws_smithy_runtime::client", "sdk-info-line");
            tracing::trace!(target: "lambda_runtime::layers::api_response", "raw-event-with-auth-code");
            tracing::trace!(target: "wxcomponent::service", "own-trace-line");
            // What the SDK and the runtime log inside their own spans.
            tracing::info_span!(target: "aws_smithy_runtime::client::orchestrator", "invoke", service = "dynamodb").in_scope(|| {
                tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "sdk-in-span-with-secret");
                tracing::trace!(target: "wxcomponent::store", "own-in-span-line");
            });
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

    const SECRETS: [&str; 5] = [
        "sdk-body-with-secret",
        "sdk-api-trace-with-secret",
        "hyper-detail-with-secret",
        "raw-event-with-auth-code",
        "sdk-in-span-with-secret",
    ];

    #[test]
    fn more_specific_directives_for_capped_crates_do_not_lift_the_cap() {
        for requested in [
            "aws_smithy_runtime::client::orchestrator=trace",
            "lambda_runtime::layers=trace",
            "lambda_runtime::layers::api_response=trace",
            "aws_smithy_runtime_api=trace",
            "hyper_util::client=trace",
            "trace,aws_smithy_runtime::client::orchestrator=trace,aws_smithy_runtime_api::client=trace,lambda_runtime::layers=trace,hyper_util::client=debug",
        ] {
            let out = captured(requested);
            for secret in SECRETS {
                assert!(!out.contains(secret), "{requested}: {out}");
            }
        }
        // The cap is INFO, not silence.
        assert!(captured("aws_smithy_runtime::client=trace").contains("sdk-info-line"));
    }

    #[test]
    fn span_directives_do_not_lift_the_cap_inside_the_sdks_spans() {
        for requested in [
            "[invoke]=trace",
            "trace,[invoke]=trace",
            "[{service}]=trace",
        ] {
            let out = captured(requested);
            for secret in SECRETS {
                assert!(!out.contains(secret), "{requested}: {out}");
            }
            assert!(out.contains("own-in-span-line"), "{requested}: {out}");
        }
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

    #[test]
    fn a_directive_for_one_crate_keeps_the_others_at_info() {
        let out = captured("wxcomponent=trace");
        assert!(
            out.contains("own-trace-line") && out.contains("sdk-info-line"),
            "{out}"
        );
        for secret in SECRETS {
            assert!(!out.contains(secret), "{out}");
        }
    }
}
