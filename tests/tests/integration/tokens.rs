//! The token service over real HTTP to the simulator and real DynamoDB Local (a fresh table per
//! test): single-flight refreshes, compare-before-replace after 40001, ticket pushes, refresh token
//! rules, faults, and idempotent authorizations.

use std::time::Duration;

use wxcomponent::service::{AuthorizationError, RefreshOutcome, TokenError};
use wxcomponent::store::AuthorizerStore;
use wxcomponent::store::{
    AuthorizerStatus, ComponentTokenStore, ExpiringToken, LeaseKey, LeaseOwner, LeaseStore,
    RefreshClaim, StoreError, Ticket, TicketStore, TokenRefresh,
};
use wxcomponent::wechat::{AuthorizerOptionName, WechatError};
use wxcomponent::{AuthorizerAppId, Secret};
use wxcomponent_tests::app::{START, TestApp, random_appid};
use wxcomponent_tests::sim::{Fault, SimConfig, Times};

const COMPONENT_TOKEN: &str = "/cgi-bin/component/api_component_token";
const START_PUSH_TICKET: &str = "/cgi-bin/component/api_start_push_ticket";
const PREAUTHCODE: &str = "/cgi-bin/component/api_create_preauthcode";
const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
const AUTHORIZER_INFO: &str = "/cgi-bin/component/api_get_authorizer_info";
const GET_OPTION: &str = "/cgi-bin/component/get_authorizer_option";

async fn lease_is_free(app: &TestApp, key: &LeaseKey) -> bool {
    let owner = LeaseOwner::random();
    match app
        .store
        .try_acquire_lease(&app.component, key, &owner, 30)
        .await
    {
        Ok(_) => {
            app.store
                .release_lease(&app.component, key, &owner)
                .await
                .unwrap();
            true
        }
        Err(StoreError::LeaseHeld) => false,
        Err(e) => panic!("{e:?}"),
    }
}

async fn hold_lease(app: &TestApp, key: &LeaseKey) -> LeaseOwner {
    let owner = LeaseOwner::random();
    app.store
        .try_acquire_lease(&app.component, key, &owner, 30)
        .await
        .unwrap();
    owner
}

/// Whether nobody holds the refresh lease on `appid`'s record (checked by taking and releasing it).
async fn refresh_lease_is_free(app: &TestApp, appid: &AuthorizerAppId) -> bool {
    let owner = LeaseOwner::random();
    match app
        .store
        .claim_token_refresh(&app.component, appid, &owner, 30, None)
        .await
        .unwrap()
    {
        RefreshClaim::Claimed(_) => {
            app.store
                .release_token_refresh(&app.component, appid, &owner)
                .await
                .unwrap();
            true
        }
        RefreshClaim::Held(_) => false,
        RefreshClaim::Declined(a) => panic!("not authorized: {:?}", a.status),
    }
}

/// Another worker's refresh lease on `appid`'s record.
async fn hold_refresh_lease(app: &TestApp, appid: &AuthorizerAppId) -> LeaseOwner {
    let owner = LeaseOwner::random();
    let claim = app
        .store
        .claim_token_refresh(&app.component, appid, &owner, 30, None)
        .await
        .unwrap();
    assert!(matches!(claim, RefreshClaim::Claimed(_)));
    owner
}

async fn stored_component_token(app: &TestApp) -> Option<String> {
    app.store
        .component_token(&app.component)
        .await
        .unwrap()
        .map(|t| t.token.value.expose().to_owned())
}

// ----- component token -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn fifty_concurrent_component_token_calls_on_an_expired_token_make_exactly_one_api_component_token_call()
 {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    app.store_component_token("ctoken-long-gone", START + 100)
        .await;
    app.clock.advance(200);

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let service = app.service.clone();
            tokio::spawn(async move { service.component_token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().unwrap());
    }

    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 1);
    let issued = app.sim.component_token().unwrap();
    assert!(tokens.iter().all(|t| t.secret().expose() == issued));
    assert_eq!(stored_component_token(&app).await, Some(issued));
    assert_eq!(tokens[0].expires_at(), START + 200 + 7200);
    assert!(lease_is_free(&app, &LeaseKey::ComponentToken).await);
    app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn a_component_token_with_more_than_the_margin_left_is_served_without_a_call_and_refreshed_within_it()
 {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let token = app.service.component_token().await.unwrap();
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 1);

    // 7200 s of life: still more than the 900 s margin after 6299 s.
    app.clock.advance(7200 - 901);
    let again = app.service.component_token().await.unwrap();
    assert_eq!(again.secret(), token.secret());
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 1);

    // 900 s left: inside the margin, so it is refreshed ahead of expiry.
    app.clock.advance(1);
    let fresh = app.service.component_token().await.unwrap();
    assert_ne!(fresh.secret(), token.secret());
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 2);
}

#[tokio::test]
async fn while_another_worker_holds_the_lease_callers_use_the_old_token_while_it_is_still_valid() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    app.store_component_token("ctoken-old-but-valid", START + 600)
        .await;
    let (appid, grant) = app.authorized_account().await;
    app.store_authorizer(
        &appid,
        &grant.access_token,
        START + 600,
        &grant.refresh_token,
    )
    .await;
    let _component_lease = hold_lease(&app, &LeaseKey::ComponentToken).await;
    let _authorizer_lease = hold_refresh_lease(&app, &appid).await;

    let token = app.service.component_token().await.unwrap();
    let atoken = app.service.authorizer_token(&appid).await.unwrap();

    assert_eq!(token.secret().expose(), "ctoken-old-but-valid");
    assert_eq!(atoken.secret().expose(), grant.access_token);
    assert!(app.sim.calls().is_empty(), "{:?}", app.sim.calls());
}

#[tokio::test]
async fn waiters_without_a_valid_token_read_the_one_the_lease_holder_stores_or_time_out_typed() {
    let app = TestApp::spawn_with(
        SimConfig::random(),
        |s| s.wait_for_refresh = Duration::from_secs(3),
        |_| {},
    )
    .await;
    let owner = hold_lease(&app, &LeaseKey::ComponentToken).await;

    // The holder stores a token after a moment; the waiter picks it up.
    let holder = {
        let store = app.store.clone();
        let component = app.component.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            store
                .replace_component_token(
                    &component,
                    &ExpiringToken {
                        value: Secret::new("ctoken-from-the-holder"),
                        expires_at: START + 7200,
                    },
                    None,
                )
                .await
                .unwrap();
            store
                .release_lease(&component, &LeaseKey::ComponentToken, &owner)
                .await
                .unwrap();
        })
    };
    let token = app.service.component_token().await.unwrap();
    holder.await.unwrap();
    assert_eq!(token.secret().expose(), "ctoken-from-the-holder");
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 0);

    // A holder that never delivers: a typed error once the wait is over.
    app.clock.advance(7200);
    let _stuck = hold_lease(&app, &LeaseKey::ComponentToken).await;
    let err = app.service.component_token().await.unwrap_err();
    assert!(matches!(err, TokenError::Busy { .. }), "{err:?}");
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 0);
}

// ----- 40001 and friends -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_burst_of_40001_on_component_calls_yields_exactly_one_refresh_and_each_call_is_retried_once()
 {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    // A token WeChat no longer accepts, though it has not expired by the stored expiry.
    app.store_component_token("ctoken-revoked-by-wechat", START + 7000)
        .await;

    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let authorizations = app.authorizations().clone();
            tokio::spawn(async move { authorizations.create_pre_auth_code().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 1);
    assert_eq!(app.sim.call_count(PREAUTHCODE), 80);
    let issued = app.sim.component_token().unwrap();
    assert_eq!(stored_component_token(&app).await, Some(issued.clone()));
    let retried_with_new = app
        .sim
        .calls_to(PREAUTHCODE)
        .iter()
        .filter(|c| c.query.get("component_access_token") == Some(&issued))
        .count();
    assert_eq!(retried_with_new, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_burst_of_40001_on_authorizer_calls_yields_exactly_one_authorizer_refresh() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    app.store_authorizer(&appid, "atoken-revoked", START + 7000, &grant.refresh_token)
        .await;

    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let service = app.service.clone();
            let appid = appid.clone();
            tokio::spawn(async move {
                service
                    .with_authorizer_token(&appid, |client, token| async move {
                        client
                            .get_authorizer_option(&token, AuthorizerOptionName::VoiceRecognize)
                            .await
                    })
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 1);
    assert_eq!(app.sim.call_count(GET_OPTION), 60);
    let stored = app.stored_authorizer(&appid).await;
    assert_ne!(stored.access_token.value.expose(), "atoken-revoked");
    assert_eq!(stored.refresh_token_version, 2, "record + nothing rotated");
}

#[tokio::test]
async fn a_token_refused_after_another_worker_replaced_it_is_not_refreshed_again() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    app.store_component_token("ctoken-revoked-by-wechat", START + 7000)
        .await;
    // The token another worker obtains while this one's call is in flight.
    let newer = app
        .client
        .api_component_token(&Secret::new(app.sim.current_ticket().unwrap()))
        .await
        .unwrap();
    let first = std::sync::atomic::AtomicBool::new(true);

    let code = app
        .service
        .with_component_token(|client, token| {
            let replace_first = first.swap(false, std::sync::atomic::Ordering::SeqCst);
            let (app, newer) = (&app, &newer);
            async move {
                if replace_first {
                    app.store_component_token(newer.secret().expose(), newer.expires_at())
                        .await;
                }
                client.api_create_preauthcode(&token).await
            }
        })
        .await;

    code.unwrap();
    let calls = app.sim.calls_to(PREAUTHCODE);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1]
            .query
            .get("component_access_token")
            .map(String::as_str),
        Some(newer.secret().expose()),
        "retried with the other worker's token"
    );
    assert_eq!(
        app.sim.call_count(COMPONENT_TOKEN),
        1,
        "only the other worker's"
    );
    assert_eq!(
        stored_component_token(&app).await.as_deref(),
        Some(newer.secret().expose())
    );
}

// ----- tickets ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_expired_ticket_requests_a_push_and_fails_with_a_clear_error() {
    let app = TestApp::spawn().await;
    let ticket = app.sim.issue_ticket();
    app.store
        .put_ticket(
            &app.component,
            &Ticket {
                value: Secret::new(ticket),
                received_at: START,
            },
        )
        .await
        .unwrap();
    app.clock.advance(12 * 3600 + 1);

    let err = app.service.component_token().await.unwrap_err();

    assert!(
        matches!(
            err,
            TokenError::NoTicket {
                push_requested: true
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("component_verify_ticket"), "{err}");
    assert_eq!(app.sim.push_ticket_requests(), 1);
    assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 0);
    assert_eq!(stored_component_token(&app).await, None);
    assert!(lease_is_free(&app, &LeaseKey::ComponentToken).await);
}

#[tokio::test]
async fn a_ticket_wechat_refuses_requests_a_push_and_is_reported_as_rejected() {
    let app = TestApp::spawn().await;
    app.store
        .put_ticket(
            &app.component,
            &Ticket {
                value: Secret::new("ticket@@@never-issued-by-wechat"),
                received_at: START,
            },
        )
        .await
        .unwrap();

    let err = app.service.component_token().await.unwrap_err();

    assert!(
        matches!(
            err,
            TokenError::TicketRejected {
                errcode: 61006,
                push_requested: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        app.sim.call_count(COMPONENT_TOKEN),
        1,
        "61006 is not retried"
    );
    assert_eq!(app.sim.push_ticket_requests(), 1);
}

#[tokio::test]
async fn start_push_ticket_is_called_at_most_once_per_interval() {
    let app = TestApp::spawn().await;

    for _ in 0..3 {
        assert!(matches!(
            app.service.component_token().await,
            Err(TokenError::NoTicket { .. })
        ));
    }
    assert_eq!(app.sim.call_count(START_PUSH_TICKET), 1);
    let second = app.service.component_token().await.unwrap_err();
    assert!(
        matches!(
            second,
            TokenError::NoTicket {
                push_requested: false
            }
        ),
        "{second:?}"
    );

    app.clock.advance(299);
    let _ = app.service.component_token().await;
    assert_eq!(app.sim.call_count(START_PUSH_TICKET), 1);
    app.clock.advance(1);
    let _ = app.service.component_token().await;
    assert_eq!(app.sim.call_count(START_PUSH_TICKET), 2);
}

// ----- authorizer tokens and refresh tokens ----------------------------------------------------

#[tokio::test]
async fn a_rotated_refresh_token_is_persisted_as_the_next_version_and_an_older_writer_cannot_overwrite_it()
 {
    let mut config = SimConfig::random();
    config.rotate_refresh_tokens = true;
    let app = TestApp::spawn_with(config, |_| {}, |_| {}).await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    app.clock.advance(7200 - 900);

    let token = app.service.authorizer_token(&appid).await.unwrap();

    let stored = app.stored_authorizer(&appid).await;
    let rotated = app.sim.refresh_token_of(appid.as_str()).unwrap();
    assert_ne!(rotated, grant.refresh_token);
    assert_eq!(stored.refresh_token.expose(), rotated);
    assert_eq!(stored.refresh_token_version, 2);
    assert_eq!(stored.access_token.value, *token.secret());
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);

    // A worker that read version 1 before the rotation tries to store what it got.
    let stale = app
        .store
        .update_authorizer_tokens(
            &app.component,
            &appid,
            &TokenRefresh {
                based_on_version: 1,
                access_token: ExpiringToken {
                    value: Secret::new("atoken-stale"),
                    expires_at: app.now() + 7200,
                },
                refresh_token: Some(Secret::new(grant.refresh_token.clone())),
            },
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    let after = app.stored_authorizer(&appid).await;
    assert_eq!(after.refresh_token.expose(), rotated);
    assert_eq!(after.refresh_token_version, 2);

    // And the service keeps working with the rotated one.
    app.clock.advance(7200);
    app.service.authorizer_token(&appid).await.unwrap();
    assert_eq!(app.stored_authorizer(&appid).await.refresh_token_version, 3);
}

#[tokio::test]
async fn an_unchanged_refresh_token_keeps_its_version() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.clock.advance(7200);

    app.service.authorizer_token(&appid).await.unwrap();

    assert_eq!(app.stored_authorizer(&appid).await.refresh_token_version, 1);
}

#[tokio::test]
async fn refresh_token_invalid_61023_marks_the_authorizer_and_is_never_retried() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    app.store_authorizer(
        &appid,
        &grant.access_token,
        START + 10,
        "refreshtoken@@@lost",
    )
    .await;
    app.clock.advance(100);
    // WeChat has no other refresh token to offer either: the recovery finds nothing.
    app.sim
        .inject(AUTHORIZER_INFO, Fault::errcode(61023), Times::Always);

    let err = app.service.authorizer_token(&appid).await.unwrap_err();

    assert!(
        matches!(&err, TokenError::ReauthorizationRequired { appid: a } if *a == appid),
        "{err:?}"
    );
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
    let stored = app.stored_authorizer(&appid).await;
    assert_eq!(stored.status, AuthorizerStatus::ReauthorizationRequired);
    assert_eq!(stored.refresh_token.expose(), "refreshtoken@@@lost", "kept");

    // Reported as such from now on, without asking WeChat again.
    assert!(matches!(
        app.service.authorizer_token(&appid).await,
        Err(TokenError::ReauthorizationRequired { .. })
    ));
    assert_eq!(
        app.service
            .refresh_authorizer_token_if_due(&appid, app.now() + 3600)
            .await,
        RefreshOutcome::ReauthorizationRequired
    );
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
}

#[tokio::test]
async fn a_revoked_authorization_61003_marks_the_authorizer_unauthorized() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.sim.revoke(appid.as_str());
    app.clock.advance(7200);

    let outcome = app
        .service
        .refresh_authorizer_token_if_due(&appid, app.now() + 900)
        .await;

    assert_eq!(outcome, RefreshOutcome::Unauthorized);
    assert_eq!(
        app.stored_authorizer(&appid).await.status,
        AuthorizerStatus::Unauthorized
    );
    assert!(matches!(
        app.service.authorizer_token(&appid).await,
        Err(TokenError::Unauthorized { .. })
    ));
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 1);
}

#[tokio::test]
async fn the_refresher_entry_points_report_refreshed_not_due_and_busy() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, grant) = app.authorized_account().await;
    let due_by = app.now() + 900;

    assert_eq!(
        app.service
            .refresh_authorizer_token_if_due(&appid, due_by)
            .await,
        RefreshOutcome::NotDue
    );
    assert!(matches!(
        app.service.refresh_component_token_if_due(due_by).await,
        RefreshOutcome::Refreshed { .. }
    ));
    assert_eq!(
        app.service.refresh_component_token_if_due(due_by).await,
        RefreshOutcome::NotDue
    );

    app.clock.advance(7200 - 600);
    let due_by = app.now() + 900;
    let owner = hold_refresh_lease(&app, &appid).await;
    assert_eq!(
        app.service
            .refresh_authorizer_token_if_due(&appid, due_by)
            .await,
        RefreshOutcome::Busy
    );
    app.store
        .release_token_refresh(&app.component, &appid, &owner)
        .await
        .unwrap();
    let outcome = app
        .service
        .refresh_authorizer_token_if_due(&appid, due_by)
        .await;
    assert_eq!(
        outcome,
        RefreshOutcome::Refreshed {
            expires_at: app.now() + 7200
        }
    );
    assert_ne!(
        app.stored_authorizer(&appid)
            .await
            .access_token
            .value
            .expose(),
        grant.access_token
    );
    assert_eq!(
        app.service
            .refresh_authorizer_token_if_due(&random_id(), due_by)
            .await,
        RefreshOutcome::NotFound
    );
}

fn random_id() -> wxcomponent::AuthorizerAppId {
    wxcomponent::AuthorizerAppId::parse(random_appid()).unwrap()
}

// ----- faults ----------------------------------------------------------------------------------

#[tokio::test]
async fn busy_5xx_and_timeouts_are_retried_a_bounded_number_of_times_then_typed_and_nothing_is_half_written()
 {
    let app = TestApp::spawn_with(
        SimConfig::random(),
        |_| {},
        |c| c.timeout = Duration::from_millis(150),
    )
    .await;
    app.store_fresh_ticket().await;
    let faults = [
        Fault::errcode(-1),
        Fault::status(502),
        Fault::latency(Duration::from_millis(400)),
        Fault::Drop,
    ];

    for fault in &faults {
        app.sim.clear_calls();
        app.sim
            .inject(COMPONENT_TOKEN, fault.clone(), Times::Always);
        let err = app.service.component_token().await.unwrap_err();
        let TokenError::Wechat(source) = &err else {
            panic!("{fault:?}: {err:?}");
        };
        assert!(source.is_retryable(), "{fault:?}: {source:?}");
        assert_eq!(app.sim.call_count(COMPONENT_TOKEN), 3, "{fault:?}");
        assert_eq!(stored_component_token(&app).await, None, "{fault:?}");
        assert!(lease_is_free(&app, &LeaseKey::ComponentToken).await);
        app.sim.clear_faults();
    }

    // The same for an authorizer: the stored record is exactly as it was.
    let (appid, _) = app.authorized_account().await;
    app.clock.advance(7200);
    let before = app.stored_authorizer(&appid).await;
    for fault in &faults {
        app.sim.clear_calls();
        app.sim
            .inject(AUTHORIZER_TOKEN, fault.clone(), Times::Always);
        let err = app.service.authorizer_token(&appid).await.unwrap_err();
        assert!(
            matches!(&err, TokenError::Wechat(e) if e.is_retryable()),
            "{fault:?}: {err:?}"
        );
        assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 3, "{fault:?}");
        assert_eq!(app.stored_authorizer(&appid).await, before, "{fault:?}");
        assert!(refresh_lease_is_free(&app, &appid).await);
        app.sim.clear_faults();
    }

    // A passing fault is ridden out.
    app.sim
        .inject(AUTHORIZER_TOKEN, Fault::errcode(-1), Times::Next(2));
    app.service.authorizer_token(&appid).await.unwrap();
    assert_eq!(
        app.stored_authorizer(&appid).await.status,
        AuthorizerStatus::Authorized
    );
}

// ----- authorization ---------------------------------------------------------------------------

#[tokio::test]
async fn completing_an_authorization_stores_the_grant_and_profile_and_reauthorization_stores_the_next_version()
 {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = Secret::new(app.sim.authorize(&merchant));
    // An official account's permission sets (the sim's default adds 18, mini program
    // development).
    app.sim.set_func_info(&merchant, vec![1, 2, 3, 4, 6, 7, 11]);

    let authorizer = app
        .authorizations()
        .complete_authorization(&code)
        .await
        .unwrap();

    assert_eq!(authorizer.appid.as_str(), merchant);
    assert_eq!(authorizer.refresh_token_version, 1);
    assert_eq!(authorizer.status, AuthorizerStatus::Authorized);
    assert_eq!(
        authorizer.refresh_token.expose(),
        app.sim.refresh_token_of(&merchant).unwrap()
    );
    let account = authorizer.account.clone().expect("the profile is stored");
    assert_eq!(Some(account.user_name), app.sim.user_name_of(&merchant));
    assert_eq!(authorizer.func_info, vec![1, 2, 3, 4, 6, 7, 11]);
    assert_eq!(app.stored_authorizer(&authorizer.appid).await, authorizer);

    // The merchant authorizes again: a new code, the next version.
    let again = Secret::new(app.sim.authorize(&merchant));
    let reauthorized = app
        .authorizations()
        .complete_authorization(&again)
        .await
        .unwrap();
    assert_eq!(reauthorized.refresh_token_version, 2);
    assert_eq!(app.sim.call_count(AUTHORIZER_INFO), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_completions_with_the_same_code_store_one_record_and_both_return_it() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = Secret::new(app.sim.authorize(&merchant));

    let push = {
        let (authorizations, code) = (app.authorizations().clone(), code.clone());
        tokio::spawn(async move { authorizations.complete_authorization(&code).await })
    };
    let redirect = {
        let (authorizations, code) = (app.authorizations().clone(), code.clone());
        tokio::spawn(async move { authorizations.complete_authorization(&code).await })
    };
    let a = push.await.unwrap().unwrap();
    let b = redirect.await.unwrap().unwrap();

    assert_eq!(a.appid.as_str(), merchant);
    assert_eq!(b.appid, a.appid);
    assert_eq!(a.refresh_token_version, 1);
    assert_eq!(b.refresh_token_version, 1);
    let stored = app.stored_authorizer(&a.appid).await;
    assert_eq!(stored.refresh_token_version, 1, "recorded once");
    // At most one call per path, and WeChat let only one of them through (single-use code).
    assert!(app.sim.call_count(QUERY_AUTH) <= 2);
    assert_eq!(app.sim.call_count(AUTHORIZER_INFO), 1);

    // A third, later delivery (WeChat retrying the push) is answered from the store.
    let calls = app.sim.call_count(QUERY_AUTH);
    let c = app
        .authorizations()
        .complete_authorization(&code)
        .await
        .unwrap();
    assert_eq!(c.appid, a.appid);
    assert_eq!(app.sim.call_count(QUERY_AUTH), calls);
}

#[tokio::test]
async fn a_used_or_expired_code_with_no_completed_record_is_rejected_after_a_short_wait() {
    let app = TestApp::spawn_with(
        SimConfig::random(),
        |s| s.wait_for_authorization = Duration::from_millis(200),
        |_| {},
    )
    .await;
    app.store_fresh_ticket().await;
    let merchant = random_appid();
    let code = Secret::new(app.sim.authorize(&merchant));
    // Somebody else (not this platform's store) spent the code.
    let token = app.service.component_token().await.unwrap();
    app.client.api_query_auth(&token, &code).await.unwrap();

    let err = app
        .authorizations()
        .complete_authorization(&code)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AuthorizationError::CodeRejected { .. }),
        "{err:?}"
    );
    assert_eq!(err.errcode(), Some(61009));

    let expired = Secret::new(app.sim.authorize(&merchant));
    app.clock.advance(601);
    let err = app
        .authorizations()
        .complete_authorization(&expired)
        .await
        .unwrap_err();
    assert_eq!(err.errcode(), Some(61010));
    assert!(
        app.store
            .authorizer(
                &app.component,
                &wxcomponent::AuthorizerAppId::parse(&merchant).unwrap()
            )
            .await
            .unwrap()
            .is_none(),
        "nothing stored"
    );
}

// ----- the token on the wire -------------------------------------------------------------------

#[tokio::test]
async fn client_calls_carry_the_right_token_type_in_the_right_query_parameter() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.clock.advance(7200);

    app.authorizations().create_pre_auth_code().await.unwrap();
    app.service
        .with_authorizer_token(&appid, |client, token| async move {
            client
                .get_authorizer_option(&token, AuthorizerOptionName::CustomerService)
                .await
        })
        .await
        .unwrap();

    let component_token = stored_component_token(&app).await.unwrap();
    let authorizer_token = app
        .stored_authorizer(&appid)
        .await
        .access_token
        .value
        .expose()
        .to_owned();
    for path in [PREAUTHCODE, AUTHORIZER_TOKEN] {
        for call in app.sim.calls_to(path) {
            assert_eq!(
                call.query.get("component_access_token"),
                Some(&component_token),
                "{path}"
            );
            assert!(!call.query.contains_key("access_token"), "{path}");
        }
    }
    let option_calls = app.sim.calls_to(GET_OPTION);
    assert_eq!(option_calls.len(), 1);
    assert_eq!(
        option_calls[0].query.get("access_token"),
        Some(&authorizer_token)
    );
    assert!(!option_calls[0].query.contains_key("component_access_token"));
    for call in app.sim.calls_to(COMPONENT_TOKEN) {
        assert!(call.query.is_empty(), "no token in the query");
    }
    app.assert_no_unmatched_calls();
}

#[tokio::test]
async fn an_authorizer_error_other_than_a_token_error_is_not_retried_by_the_service() {
    let app = TestApp::spawn().await;
    app.store_fresh_ticket().await;
    let (appid, _) = app.authorized_account().await;
    app.sim
        .inject(GET_OPTION, Fault::errcode(45009), Times::Next(1));

    let err = app
        .service
        .with_authorizer_token(&appid, |client, token| async move {
            client
                .get_authorizer_option(&token, AuthorizerOptionName::CustomerService)
                .await
        })
        .await
        .unwrap_err();

    assert!(
        matches!(&err, TokenError::Wechat(e @ WechatError::Api { .. }) if e.is_quota_limited()),
        "{err:?}"
    );
    assert_eq!(app.sim.call_count(GET_OPTION), 1);
    assert_eq!(app.sim.call_count(AUTHORIZER_TOKEN), 0);
}
