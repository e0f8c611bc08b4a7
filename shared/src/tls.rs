//! The trusted root certificates, read once per process into one TLS configuration that both
//! HTTPS clients use: the WeChat client and the AWS SDK's (both reqwest, see `crate::sdk_http`).
//! Left alone, each would load the system's store itself at start-up, and each load (the bundle,
//! then every file of the certificate directory) is most of a function's start-up time.
//!
//! The roots are the bundle OpenSSL would use on this system (`SSL_CERT_FILE` when set, otherwise
//! the distribution's bundle, such as `/etc/ssl/certs/ca-certificates.crt` on Debian or
//! `/etc/pki/tls/certs/ca-bundle.crt` on Amazon Linux). Only certificates that are usable as trust
//! anchors are kept. With no bundle, or none of it usable, each client falls back to reqwest's
//! own verification with the platform's store.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::sdk_http::SdkHttpClient;

/// The trusted roots, as the TLS configuration both clients share.
#[derive(Clone)]
pub struct TrustedRoots {
    config: Arc<rustls::ClientConfig>,
    count: usize,
}

impl std::fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoots")
            .field("certificates", &self.count)
            .finish()
    }
}

impl TrustedRoots {
    /// The system's bundle (see the module documentation), or `None` when there is no usable one.
    pub fn system() -> Option<Self> {
        let path = openssl_probe::probe().cert_file?;
        match std::fs::read(&path) {
            Ok(bundle) => Self::from_pem_bundle(&bundle),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "could not read the bundle of trusted roots; each client loads the system's store");
                None
            }
        }
    }

    /// The usable trust anchors of a PEM bundle; `None` when there is none.
    pub fn from_pem_bundle(bundle: &[u8]) -> Option<Self> {
        let mut roots = RootCertStore::empty();
        let (count, _unusable) =
            roots.add_parsable_certificates(CertificateDer::pem_slice_iter(bundle).flatten());
        if count == 0 {
            return None;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = match rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
            Err(e) => {
                tracing::warn!(error = %e, "no TLS configuration on the trusted roots; each client loads the system's store");
                return None;
            }
        };
        Some(Self {
            config: Arc::new(config),
            count,
        })
    }

    /// How many certificates are trusted.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The TLS configuration trusting these roots and nothing else, for reqwest
    /// (`ClientBuilder::tls_backend_preconfigured`).
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }
}

/// The AWS SDK's configuration from the environment, on [`SdkHttpClient`] (trusting `roots` when
/// given, otherwise with reqwest's own verification).
pub async fn sdk_config(roots: Option<&TrustedRoots>) -> aws_config::SdkConfig {
    let client = SdkHttpClient::new(roots.map(TrustedRoots::tls_config));
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(client)
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_bundle_is_read_once_and_reqwest_takes_the_configuration() {
        let Some(roots) = TrustedRoots::system() else {
            panic!("this machine has no bundle of trusted roots for OpenSSL to find");
        };
        assert!(roots.len() > 10, "{roots:?}");
        reqwest::Client::builder()
            .tls_backend_preconfigured(roots.tls_config().as_ref().clone())
            .build()
            .expect("reqwest accepts the configuration");
    }

    #[test]
    fn what_is_not_a_usable_trust_anchor_is_left_out() {
        let bundle = std::fs::read(openssl_probe::probe().cert_file.expect("a bundle"))
            .expect("the bundle is readable");
        let system = TrustedRoots::from_pem_bundle(&bundle).expect("usable roots");
        let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let mut mixed = junk.to_vec();
        mixed.extend_from_slice(&bundle);
        mixed.extend_from_slice(b"not pem at all\n");
        let roots = TrustedRoots::from_pem_bundle(&mixed).unwrap();
        assert_eq!(roots.len(), system.len());
        assert!(TrustedRoots::from_pem_bundle(junk).is_none());
        assert!(TrustedRoots::from_pem_bundle(b"").is_none());
    }
}
