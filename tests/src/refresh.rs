//! Helpers for the refresher's tests: many due authorizers at once, and a refresher on a
//! [`TestApp`].

use wxcomponent::service::{Refresher, RefresherSettings};
use wxcomponent::store::{Authorizer, AuthorizerStatus, DynamoStore, ExpiringToken};
use wxcomponent::{AuthorizerAppId, Secret};

use crate::app::{TestApp, random_appid};

/// `n` accounts authorize the component in the sim, and the platform holds their refresh tokens
/// with access tokens expiring at `expires_at`, imported in bulk (BatchWriteItem).
pub async fn seed_authorizers(app: &TestApp, n: usize, expires_at: i64) -> Vec<AuthorizerAppId> {
    let appids: Vec<String> = (0..n).map(|_| random_appid()).collect();
    let grants = app.sim.add_authorizers(&appids);
    let now = app.now();
    let records: Vec<Authorizer> = grants
        .into_iter()
        .map(|grant| Authorizer {
            appid: AuthorizerAppId::parse(grant.authorizer_appid).expect("a valid appid"),
            status: AuthorizerStatus::Authorized,
            refresh_token: Secret::new(grant.refresh_token),
            refresh_token_version: 1,
            access_token: ExpiringToken {
                value: Secret::new(grant.access_token),
                expires_at,
            },
            func_info: vec![1],
            account: None,
            authorized_at: now,
            updated_at: now,
        })
        .collect();
    app.store
        .import_authorizers(&app.component, &records)
        .await
        .expect("importing the authorizers");
    records.into_iter().map(|a| a.appid).collect()
}

/// A refresher over the app's service, with `tune` applied to the default settings.
pub fn refresher(
    app: &TestApp,
    tune: impl FnOnce(&mut RefresherSettings),
) -> Refresher<DynamoStore> {
    let mut settings = RefresherSettings {
        margin_secs: app.service.context().settings().refresh_margin_secs,
        ..RefresherSettings::default()
    };
    tune(&mut settings);
    Refresher::new(app.service.clone(), settings)
}
