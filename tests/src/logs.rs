//! Log capture for the log-secrecy tests: a subscriber that writes into memory, with either the
//! functions' own filter ([`wxcomponent::logging::filter`]) or no filter at all.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::{EnvFilter, Registry};
use wxcomponent::logging::{CAPPED_TARGETS, LogFilter};

/// Everything a subscriber wrote. Clones share the buffer.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What production logging installs when an operator asks for TRACE everywhere and then tries
/// to lift every cap by name: each capped crate, a submodule of it, and the modules known to print
/// secrets at TRACE (the SDK's orchestrator, the runtime's raw-event layer). The SDK, HTTP and
/// runtime crates must still stay at INFO.
pub fn production_filter_at_trace() -> LogFilter {
    wxcomponent::logging::filter(Some(&trace_request_lifting_every_cap()))
}

/// `trace` plus a TRACE directive for every capped crate and submodule named above.
pub fn trace_request_lifting_every_cap() -> String {
    let mut directives = vec!["trace".to_owned()];
    for target in CAPPED_TARGETS {
        directives.push(format!("{target}=trace"));
        directives.push(format!("{target}::client=trace"));
    }
    directives.extend(
        [
            "aws_smithy_runtime::client::orchestrator=trace",
            "aws_smithy_runtime::client::http=trace",
            "aws_smithy_runtime_api::client=trace",
            "lambda_runtime::layers=trace",
            "lambda_runtime::layers::api_response=trace",
        ]
        .map(str::to_owned),
    );
    directives.join(",")
}

/// Every crate at TRACE, with no cap: the strictest capture, for code that never touches the AWS SDK.
pub fn everything_at_trace() -> EnvFilter {
    EnvFilter::new("trace")
}

impl LogBuffer {
    /// All that was written so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A subscriber writing into this buffer through `filter` (the production [`LogFilter`] or a
    /// plain [`EnvFilter`]), built as `logging::init` builds it.
    pub fn subscriber<F>(&self, filter: F) -> impl tracing::Subscriber + Send + Sync + 'static
    where
        F: Layer<Registry> + Send + Sync + 'static,
    {
        let writer = self.clone();
        tracing_subscriber::registry().with(filter).with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        )
    }

    /// This test binary's global buffer, behind the functions' own filter at TRACE, installed by
    /// the first caller: for binaries whose tests all check their logs and run in parallel. Each
    /// test sees every test's lines, which only makes its check stricter.
    pub fn global_at_trace() -> Self {
        static GLOBAL: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
        GLOBAL
            .get_or_init(|| Self::install_global(production_filter_at_trace()))
            .clone()
    }

    /// A new buffer behind this test binary's global subscriber (which also receives `log` records
    /// from reqwest and hyper). Panics if the binary already has one: give each such test its own
    /// test binary.
    pub fn install_global<F>(filter: F) -> Self
    where
        F: Layer<Registry> + Send + Sync + 'static,
    {
        let buffer = Self::default();
        tracing::subscriber::set_global_default(buffer.subscriber(filter))
            .expect("the only global subscriber of this test binary");
        buffer
    }
}

/// Fails the test if any of `secrets` (empty strings ignored) appears in `text`, naming the line.
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    assert!(
        !text.is_empty(),
        "nothing was logged: the capture is not working"
    );
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        if let Some(line) = text.lines().find(|line| line.contains(secret.as_str())) {
            panic!("a secret reached the logs: {secret:?} in line {line:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::assert_no_secret;

    #[test]
    #[should_panic(expected = "a secret reached the logs")]
    fn a_secret_anywhere_in_a_line_fails_the_check() {
        assert_no_secret(
            "INFO ok\nWARN token atoken-abc in a message\n",
            &["atoken-abc".to_owned()],
        );
    }

    #[test]
    fn lines_without_secrets_pass_and_empty_secrets_are_ignored() {
        assert_no_secret("INFO ok\n", &["atoken-abc".to_owned(), String::new()]);
    }
}
