//! One contract for every store adapter: each test below is an `async fn` over any [`Store`], run once
//! against the in-memory adapter and once against DynamoDB Local through the real SDK (a fresh table
//! created from template.yaml per test). Nothing is mocked at the DynamoDB API level. Run them with
//! `cargo test -p wxcomponent-tests --test integration store_contract::`.

mod support;

use std::sync::Arc;

use tokio::sync::Barrier;
use wxcomponent::AuthorizerAppId;
use wxcomponent::Secret;
use wxcomponent::store::*;

use support::{Fixture, T0, random_authorizer, random_component};

macro_rules! contract_suite {
    ($($test:ident),* $(,)?) => {
        mod in_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let fixture = crate::store_contract::support::memory_fixture();
                    super::$test(&fixture).await;
                    fixture.finish().await;
                }
            )*
        }

        mod dynamodb_local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let fixture = crate::store_contract::support::dynamo_fixture().await;
                    super::$test(&fixture).await;
                    fixture.finish().await;
                }
            )*
        }
    };
}

contract_suite!(
    ticket_is_absent_until_stored_and_again_once_twelve_hours_old,
    an_older_ticket_never_replaces_a_newer_one,
    each_component_keeps_its_own_ticket_token_and_authorizers,
    component_token_is_replaced_only_if_the_caller_saw_the_stored_version,
    an_expired_component_token_counts_as_absent_and_may_be_replaced_without_a_version,
    a_lease_is_exclusive_until_it_expires_and_its_holder_may_extend_it,
    only_the_owner_can_release_a_lease,
    thirty_two_racers_for_one_lease_yield_exactly_one_winner,
    an_authorizers_refresh_lease_comes_with_its_record_and_goes_with_the_token_write,
    a_refresh_claim_is_declined_with_the_reason_on_the_record,
    thirty_two_racers_for_one_refresh_lease_yield_exactly_one_winner,
    authorization_creates_version_one_and_reauthorization_stores_the_next_version,
    a_stale_refresh_token_write_conflicts_and_the_newer_value_stays,
    thirty_two_writers_of_successive_refresh_token_versions_leave_the_highest,
    an_access_token_refresh_without_a_new_refresh_token_keeps_token_and_version,
    an_unauthorized_authorizer_keeps_its_record_and_leaves_the_due_index,
    updates_to_an_unknown_authorizer_are_not_found,
    account_info_is_stored_and_kept_across_reauthorization,
    settings_are_kept_beside_the_tokens_and_across_reauthorization,
    listing_pages_through_every_authorizer_with_an_opaque_cursor,
    a_forged_cursor_is_refused,
    authorizers_are_counted_by_status,
    the_due_query_returns_authorized_tokens_expiring_by_the_deadline_earliest_first,
    audit_state_round_trips_and_an_older_audit_never_replaces_a_newer_one,
    withdrawals_are_counted_per_day_and_month_up_to_wechats_limits,
    sixteen_racers_for_the_days_withdrawals_take_exactly_five,
    events_are_recorded_once_listed_unsent_oldest_first_and_leave_the_list_when_sent,
    the_start_push_ticket_lease_is_its_own_and_lapses_after_its_interval,
    a_completed_authorization_is_found_by_its_code_digest_until_its_retention_ends,
    a_jsapi_ticket_is_versioned_per_account_and_counts_as_absent_once_expired,
    a_web_users_profile_is_kept_per_account_until_it_expires,
    a_console_session_is_found_by_its_digest_until_it_expires_or_is_ended,
    failed_sign_ins_are_counted_per_client_and_window,
    the_refresher_run_is_replaced_by_the_next,
    recent_events_are_listed_latest_first_once_each_for_a_week,
);

// ---- the push ledger --------------------------------------------------------------------------

/// Each ledger contract test, run on the ledger beside each store adapter.
macro_rules! ledger_suite {
    ($($test:ident),* $(,)?) => {
        mod push_ledger_in_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let fixture = crate::store_contract::support::memory_fixture();
                    let crate::store_contract::support::PushLedgers::Memory(ledger) = fixture.push_ledger() else {
                        unreachable!("a memory fixture has a memory ledger")
                    };
                    super::$test(&ledger, &fixture.clock, &fixture.component).await;
                    fixture.finish().await;
                }
            )*
        }

        mod push_ledger_dynamodb_local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let fixture = crate::store_contract::support::dynamo_fixture().await;
                    let crate::store_contract::support::PushLedgers::Dynamo(ledger) = fixture.push_ledger() else {
                        unreachable!("a DynamoDB fixture has a DynamoDB ledger")
                    };
                    super::$test(&ledger, &fixture.clock, &fixture.component).await;
                    fixture.finish().await;
                }
            )*
        }
    };
}

ledger_suite!(
    a_claim_is_exclusive_until_released_or_lapsed_and_done_is_final,
    only_the_owner_of_a_claim_releases_it,
    a_done_push_keeps_its_record_for_its_retention,
);

async fn a_claim_is_exclusive_until_released_or_lapsed_and_done_is_final<L: PushLedger>(
    ledger: &L,
    clock: &wxcomponent::ManualClock,
    c: &wxcomponent::ComponentAppId,
) {
    let (a, b) = (LeaseOwner::new("a"), LeaseOwner::new("b"));
    assert_eq!(ledger.claim(c, "k", &a, 5).await.unwrap(), Claim::Acquired);
    assert_eq!(
        ledger.claim(c, "k", &b, 5).await.unwrap(),
        Claim::InProgress
    );
    ledger.release(c, "k", &a).await.unwrap();
    assert_eq!(ledger.claim(c, "k", &b, 5).await.unwrap(), Claim::Acquired);
    clock.advance(5);
    assert_eq!(ledger.claim(c, "k", &a, 5).await.unwrap(), Claim::Acquired);
    ledger
        .complete(c, "k", &PushRecord::dedupe("text"))
        .await
        .unwrap();
    ledger.release(c, "k", &a).await.unwrap();
    assert_eq!(ledger.claim(c, "k", &b, 5).await.unwrap(), Claim::Done);
    clock.advance(EVENT_RETENTION_SECS);
    assert_eq!(ledger.claim(c, "k", &b, 5).await.unwrap(), Claim::Acquired);
}

async fn only_the_owner_of_a_claim_releases_it<L: PushLedger>(
    ledger: &L,
    clock: &wxcomponent::ManualClock,
    c: &wxcomponent::ComponentAppId,
) {
    let (slow, next) = (LeaseOwner::new("slow"), LeaseOwner::new("next"));
    assert_eq!(
        ledger.claim(c, "k", &slow, 5).await.unwrap(),
        Claim::Acquired
    );
    // The slow delivery's lease lapses and the next delivery takes over.
    clock.advance(5);
    assert_eq!(
        ledger.claim(c, "k", &next, 5).await.unwrap(),
        Claim::Acquired
    );
    // The slow one fails and gives back what it no longer holds: the new claim stays.
    ledger.release(c, "k", &slow).await.unwrap();
    assert_eq!(
        ledger.claim(c, "k", &slow, 5).await.unwrap(),
        Claim::InProgress
    );
}

async fn a_done_push_keeps_its_record_for_its_retention<L: PushLedger>(
    ledger: &L,
    clock: &wxcomponent::ManualClock,
    c: &wxcomponent::ComponentAppId,
) {
    let owner = LeaseOwner::new("a");
    assert!(ledger.entry(c, "k",).await.unwrap().is_none());
    assert_eq!(
        ledger.claim(c, "k", &owner, 5).await.unwrap(),
        Claim::Acquired
    );
    let pending = ledger.entry(c, "k").await.unwrap().expect("a claimed push");
    assert!(!pending.done && pending.record.is_none());
    let mut record = PushRecord::dedupe("event:weapp_audit_success");
    record.appid = Some("wx0123456789abcdef".into());
    record.status = Some(3);
    record
        .detail
        .insert("auto_release".into(), "released".into());
    record.retention = Retention::Secs(600);
    ledger.complete(c, "k", &record).await.unwrap();
    let done = ledger.entry(c, "k").await.unwrap().expect("a done push");
    assert!(done.done);
    assert_eq!(done.record.as_ref(), Some(&record));
    // Another component's push of the same key is another push.
    let other = wxcomponent::ComponentAppId::parse("wxother0000000001").unwrap();
    assert!(ledger.entry(&other, "k").await.unwrap().is_none());
    clock.advance(600);
    assert!(
        ledger.entry(c, "k").await.unwrap().is_none(),
        "past its retention"
    );
}

// ---- helpers ----------------------------------------------------------------------------------

fn token(value: &str, expires_at: i64) -> ExpiringToken {
    ExpiringToken {
        value: Secret::new(value),
        expires_at,
    }
}

fn grant(appid: &AuthorizerAppId, refresh: &str, expires_at: i64) -> AuthorizationGrant {
    AuthorizationGrant {
        appid: appid.clone(),
        access_token: token(&format!("at-{refresh}"), expires_at),
        refresh_token: Secret::new(refresh),
        func_info: vec![1, 15, 18],
        account: None,
    }
}

fn account(nick: &str) -> AccountInfo {
    AccountInfo {
        nick_name: nick.to_owned(),
        user_name: "gh_3c884a361561".to_owned(),
        kind: AccountKind::MiniProgram,
        service_type: 0,
        verify_type: 0,
        principal_name: "Example Ltd".to_owned(),
        head_img: "https://example.com/head.png".to_owned(),
        qrcode_url: String::new(),
    }
}

async fn authorize<S: Store>(
    f: &Fixture<S>,
    appid: &AuthorizerAppId,
    expires_at: i64,
) -> Authorizer {
    f.store
        .record_authorization(&f.component, &grant(appid, "rt-1", expires_at))
        .await
        .unwrap()
}

fn appids(due: &[DueToken]) -> Vec<AuthorizerAppId> {
    due.iter().map(|d| d.appid.clone()).collect()
}

// ---- ticket -----------------------------------------------------------------------------------

async fn ticket_is_absent_until_stored_and_again_once_twelve_hours_old<S: Store>(f: &Fixture<S>) {
    assert_eq!(f.store.latest_ticket(&f.component).await.unwrap(), None);

    let ticket = Ticket {
        value: Secret::new("ticket@@@1"),
        received_at: T0,
    };
    f.store.put_ticket(&f.component, &ticket).await.unwrap();
    assert_eq!(
        f.store.latest_ticket(&f.component).await.unwrap(),
        Some(ticket)
    );

    f.clock.advance(TICKET_VALIDITY_SECS - 1);
    assert!(f.store.latest_ticket(&f.component).await.unwrap().is_some());
    f.clock.advance(1);
    assert_eq!(f.store.latest_ticket(&f.component).await.unwrap(), None);
}

async fn an_older_ticket_never_replaces_a_newer_one<S: Store>(f: &Fixture<S>) {
    let newer = Ticket {
        value: Secret::new("newer"),
        received_at: T0 + 600,
    };
    let older = Ticket {
        value: Secret::new("older"),
        received_at: T0,
    };
    f.store.put_ticket(&f.component, &newer).await.unwrap();

    let err = f.store.put_ticket(&f.component, &older).await.unwrap_err();

    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(
        f.store.latest_ticket(&f.component).await.unwrap(),
        Some(newer)
    );
}

async fn each_component_keeps_its_own_ticket_token_and_authorizers<S: Store>(f: &Fixture<S>) {
    let other = random_component();
    let appid = random_authorizer();
    for (component, n) in [(&f.component, "1"), (&other, "2")] {
        let ticket = Ticket {
            value: Secret::new(format!("ticket-{n}")),
            received_at: T0,
        };
        f.store.put_ticket(component, &ticket).await.unwrap();
        f.store
            .replace_component_token(component, &token(&format!("ct-{n}"), T0 + 7200), None)
            .await
            .unwrap();
        f.store
            .record_authorization(component, &grant(&appid, &format!("rt-{n}"), T0 + 7200))
            .await
            .unwrap();
    }

    let mine = f.store.latest_ticket(&f.component).await.unwrap().unwrap();
    let theirs = f.store.latest_ticket(&other).await.unwrap().unwrap();
    assert_eq!(mine.value.expose(), "ticket-1");
    assert_eq!(theirs.value.expose(), "ticket-2");
    let ct = f.store.component_token(&other).await.unwrap().unwrap();
    assert_eq!(ct.token.value.expose(), "ct-2");
    let a = f
        .store
        .authorizer(&f.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.refresh_token.expose(), "rt-1");
    assert_eq!(a.refresh_token_version, 1);
}

// ---- component token --------------------------------------------------------------------------

async fn a_jsapi_ticket_is_versioned_per_account_and_counts_as_absent_once_expired<S: Store>(
    f: &Fixture<S>,
) {
    let (a, b) = (random_authorizer(), random_authorizer());
    assert_eq!(f.store.jsapi_ticket(&f.component, &a).await.unwrap(), None);
    let v1 = f
        .store
        .replace_jsapi_ticket(&f.component, &a, &token("jt-1", T0 + 7200), None)
        .await
        .unwrap();
    let v2 = f
        .store
        .replace_jsapi_ticket(&f.component, &a, &token("jt-2", T0 + 7300), Some(v1))
        .await
        .unwrap();
    assert!(v2 > v1);
    for (seen, value) in [(Some(v1), "jt-late"), (None, "jt-blind")] {
        let refused = f
            .store
            .replace_jsapi_ticket(&f.component, &a, &token(value, T0 + 7400), seen)
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Conflict), "{refused:?}");
    }
    let stored = f
        .store
        .jsapi_ticket(&f.component, &a)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.ticket, stored.version),
        (token("jt-2", T0 + 7300), v2)
    );
    // Another account has its own; the component token is not touched.
    assert_eq!(f.store.jsapi_ticket(&f.component, &b).await.unwrap(), None);
    assert_eq!(f.store.component_token(&f.component).await.unwrap(), None);
    f.clock.advance(7300);
    assert_eq!(f.store.jsapi_ticket(&f.component, &a).await.unwrap(), None);
    f.store
        .replace_jsapi_ticket(&f.component, &a, &token("jt-3", T0 + 15000), None)
        .await
        .expect("an expired ticket may be replaced without a version");
}

async fn a_web_users_profile_is_kept_per_account_until_it_expires<S: Store>(f: &Fixture<S>) {
    let (a, b) = (random_authorizer(), random_authorizer());
    let profile = |nickname: &str| -> wxcomponent::wechat::UserInfo {
        serde_json::from_value(serde_json::json!({
            "openid": "oUser1", "nickname": nickname, "headimgurl": "https://x/1", "unionid": "oUnion1"
        }))
        .unwrap()
    };
    let user = |appid: &AuthorizerAppId, nickname: &str| WebUser {
        appid: appid.clone(),
        profile: profile(nickname),
        authorized_at: T0,
        expires_at: T0 + WEB_USER_RETENTION_SECS,
    };
    assert_eq!(
        f.store.web_user(&f.component, &a, "oUser1").await.unwrap(),
        None
    );
    f.store
        .put_web_user(&f.component, &user(&a, "first"))
        .await
        .unwrap();
    f.store
        .put_web_user(&f.component, &user(&a, "second"))
        .await
        .unwrap();
    f.store
        .put_web_user(&f.component, &user(&b, "other account"))
        .await
        .unwrap();
    assert_eq!(
        f.store.web_user(&f.component, &a, "oUser1").await.unwrap(),
        Some(user(&a, "second")),
        "a later authorization replaces the profile"
    );
    assert_eq!(
        f.store
            .web_user(&f.component, &b, "oUser1")
            .await
            .unwrap()
            .unwrap()
            .profile
            .nickname,
        "other account"
    );
    assert_eq!(
        f.store.web_user(&f.component, &a, "oUser2").await.unwrap(),
        None
    );
    f.clock.advance(WEB_USER_RETENTION_SECS);
    assert_eq!(
        f.store.web_user(&f.component, &a, "oUser1").await.unwrap(),
        None
    );
}

async fn component_token_is_replaced_only_if_the_caller_saw_the_stored_version<S: Store>(
    f: &Fixture<S>,
) {
    assert_eq!(f.store.component_token(&f.component).await.unwrap(), None);
    let v1 = f
        .store
        .replace_component_token(&f.component, &token("ct-1", T0 + 7200), None)
        .await
        .unwrap();
    // Two workers saw v1 fail with 40001; the first to replace it wins.
    let v2 = f
        .store
        .replace_component_token(&f.component, &token("ct-2", T0 + 7300), Some(v1))
        .await
        .unwrap();
    assert!(v2 > v1);

    let late = f
        .store
        .replace_component_token(&f.component, &token("ct-3", T0 + 7400), Some(v1))
        .await
        .unwrap_err();
    let blind = f
        .store
        .replace_component_token(&f.component, &token("ct-4", T0 + 7400), None)
        .await
        .unwrap_err();

    assert!(matches!(late, StoreError::Conflict), "{late:?}");
    assert!(matches!(blind, StoreError::Conflict), "{blind:?}");
    let stored = f
        .store
        .component_token(&f.component)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token, token("ct-2", T0 + 7300));
    assert_eq!(stored.version, v2);
}

async fn an_expired_component_token_counts_as_absent_and_may_be_replaced_without_a_version<
    S: Store,
>(
    f: &Fixture<S>,
) {
    let v1 = f
        .store
        .replace_component_token(&f.component, &token("ct-1", T0 + 7200), None)
        .await
        .unwrap();
    f.clock.set(T0 + 7200);

    assert_eq!(f.store.component_token(&f.component).await.unwrap(), None);
    let v2 = f
        .store
        .replace_component_token(&f.component, &token("ct-2", T0 + 14_400), None)
        .await
        .unwrap();

    assert!(v2 > v1);
    let stored = f
        .store
        .component_token(&f.component)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.token.value.expose(), "ct-2");
}

// ---- leases -----------------------------------------------------------------------------------

async fn a_lease_is_exclusive_until_it_expires_and_its_holder_may_extend_it<S: Store>(
    f: &Fixture<S>,
) {
    let key = LeaseKey::ComponentToken;
    let (a, b) = (LeaseOwner::random(), LeaseOwner::random());

    let lease = f
        .store
        .try_acquire_lease(&f.component, &key, &a, 30)
        .await
        .unwrap();
    assert_eq!(lease.expires_at, T0 + 30);
    let err = f
        .store
        .try_acquire_lease(&f.component, &key, &b, 30)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseHeld), "{err:?}");

    // Other components have their own leases.
    f.store
        .try_acquire_lease(&random_component(), &key, &b, 30)
        .await
        .unwrap();

    f.clock.advance(20);
    let extended = f
        .store
        .try_acquire_lease(&f.component, &key, &a, 30)
        .await
        .unwrap();
    assert_eq!(extended.expires_at, T0 + 50);
    f.clock.advance(29);
    assert!(matches!(
        f.store.try_acquire_lease(&f.component, &key, &b, 30).await,
        Err(StoreError::LeaseHeld)
    ));

    f.clock.advance(1);
    let taken = f
        .store
        .try_acquire_lease(&f.component, &key, &b, 30)
        .await
        .unwrap();
    assert_eq!(taken.owner, b);
}

async fn only_the_owner_can_release_a_lease<S: Store>(f: &Fixture<S>) {
    let key = LeaseKey::ComponentToken;
    let (a, b) = (LeaseOwner::random(), LeaseOwner::random());
    f.store
        .try_acquire_lease(&f.component, &key, &a, 60)
        .await
        .unwrap();

    let err = f
        .store
        .release_lease(&f.component, &key, &b)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseHeld), "{err:?}");
    assert!(matches!(
        f.store.try_acquire_lease(&f.component, &key, &b, 60).await,
        Err(StoreError::LeaseHeld)
    ));

    f.store.release_lease(&f.component, &key, &a).await.unwrap();
    let err = f
        .store
        .release_lease(&f.component, &key, &a)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    f.store
        .try_acquire_lease(&f.component, &key, &b, 60)
        .await
        .unwrap();
}

async fn the_start_push_ticket_lease_is_its_own_and_lapses_after_its_interval<S: Store>(
    f: &Fixture<S>,
) {
    let (a, b) = (LeaseOwner::random(), LeaseOwner::random());
    let key = LeaseKey::StartPushTicket;
    f.store
        .try_acquire_lease(&f.component, &key, &a, 300)
        .await
        .unwrap();
    // The token leases are unaffected, and so is another component's rate limit.
    f.store
        .try_acquire_lease(&f.component, &LeaseKey::ComponentToken, &b, 30)
        .await
        .unwrap();
    f.store
        .try_acquire_lease(&random_component(), &key, &b, 300)
        .await
        .unwrap();

    f.clock.advance(299);
    assert!(matches!(
        f.store.try_acquire_lease(&f.component, &key, &b, 300).await,
        Err(StoreError::LeaseHeld)
    ));
    f.clock.advance(1);
    let taken = f
        .store
        .try_acquire_lease(&f.component, &key, &b, 300)
        .await
        .unwrap();
    assert_eq!(taken.expires_at, T0 + 600);
}

async fn thirty_two_racers_for_one_lease_yield_exactly_one_winner<S: Store + 'static>(
    f: &Fixture<S>,
) {
    let key = LeaseKey::ComponentToken;
    let start = Arc::new(Barrier::new(32));
    let mut racers = Vec::new();
    for _ in 0..32 {
        let (store, component, key, start) = (
            f.store.clone(),
            f.component.clone(),
            key.clone(),
            start.clone(),
        );
        racers.push(tokio::spawn(async move {
            let owner = LeaseOwner::random();
            start.wait().await;
            let result = store.try_acquire_lease(&component, &key, &owner, 60).await;
            (owner, result)
        }));
    }

    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            (owner, Ok(lease)) => winners.push((owner, lease)),
            (_, Err(StoreError::LeaseHeld)) => {}
            (_, Err(e)) => panic!("unexpected error: {e:?}"),
        }
    }

    assert_eq!(winners.len(), 1, "exactly one racer may win");
    let (owner, lease) = &winners[0];
    assert_eq!(&lease.owner, owner);
    f.store
        .release_lease(&f.component, &key, owner)
        .await
        .unwrap();
}

// ---- the refresh lease on an authorizer's record ---------------------------------------------

async fn an_authorizers_refresh_lease_comes_with_its_record_and_goes_with_the_token_write<
    S: Store,
>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();
    let stored = authorize(f, &appid, T0 + 100).await;
    let (a, b) = (LeaseOwner::random(), LeaseOwner::random());

    let claim = f
        .store
        .claim_token_refresh(&f.component, &appid, &a, 30, None)
        .await
        .unwrap();
    assert_eq!(claim, RefreshClaim::Claimed(stored.clone()));
    let claim = f
        .store
        .claim_token_refresh(&f.component, &appid, &b, 30, None)
        .await
        .unwrap();
    assert_eq!(claim, RefreshClaim::Held(stored.clone()));
    // Another authorizer's lease is its own.
    let other = random_authorizer();
    authorize(f, &other, T0 + 100).await;
    assert!(matches!(
        f.store
            .claim_token_refresh(&f.component, &other, &b, 30, None)
            .await
            .unwrap(),
        RefreshClaim::Claimed(_)
    ));

    // The write of refreshed tokens gives the lease back in the same request.
    f.store
        .update_authorizer_tokens(
            &f.component,
            &appid,
            &TokenRefresh {
                based_on_version: 1,
                access_token: token("at-2", T0 + 7200),
                refresh_token: None,
            },
        )
        .await
        .unwrap();
    let RefreshClaim::Claimed(after) = f
        .store
        .claim_token_refresh(&f.component, &appid, &b, 30, None)
        .await
        .unwrap()
    else {
        panic!("the write should have given the lease back");
    };
    assert_eq!(after.access_token, token("at-2", T0 + 7200));

    // Released only by its owner; a lapsed lease may be taken.
    assert!(matches!(
        f.store
            .release_token_refresh(&f.component, &appid, &a)
            .await,
        Err(StoreError::LeaseHeld)
    ));
    f.store
        .release_token_refresh(&f.component, &appid, &b)
        .await
        .unwrap();
    assert!(matches!(
        f.store
            .release_token_refresh(&f.component, &appid, &b)
            .await,
        Err(StoreError::NotFound)
    ));
    f.store
        .claim_token_refresh(&f.component, &appid, &a, 30, None)
        .await
        .unwrap();
    f.clock.advance(29);
    assert!(matches!(
        f.store
            .claim_token_refresh(&f.component, &appid, &b, 30, None)
            .await
            .unwrap(),
        RefreshClaim::Held(_)
    ));
    f.clock.advance(1);
    assert!(matches!(
        f.store
            .claim_token_refresh(&f.component, &appid, &b, 30, None)
            .await
            .unwrap(),
        RefreshClaim::Claimed(_)
    ));
}

async fn a_refresh_claim_is_declined_with_the_reason_on_the_record<S: Store>(f: &Fixture<S>) {
    let appid = random_authorizer();
    let stored = authorize(f, &appid, T0 + 100).await;
    let owner = LeaseOwner::random();

    // Not due yet.
    let claim = f
        .store
        .claim_token_refresh(&f.component, &appid, &owner, 30, Some(T0 + 99))
        .await
        .unwrap();
    assert_eq!(claim, RefreshClaim::Declined(stored.clone()));
    // Due: the expiry itself counts.
    let claim = f
        .store
        .claim_token_refresh(&f.component, &appid, &owner, 30, Some(T0 + 100))
        .await
        .unwrap();
    assert_eq!(claim, RefreshClaim::Claimed(stored.clone()));

    // A write based on an older version conflicts and leaves the lease with its holder.
    f.store
        .record_authorization(&f.component, &grant(&appid, "rt-2", T0 + 7200))
        .await
        .unwrap();
    let err = f
        .store
        .update_authorizer_tokens(
            &f.component,
            &appid,
            &TokenRefresh {
                based_on_version: 1,
                access_token: token("at-stale", T0 + 7200),
                refresh_token: Some(Secret::new("rt-stale")),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert!(matches!(
        f.store
            .claim_token_refresh(&f.component, &appid, &LeaseOwner::random(), 30, None)
            .await
            .unwrap(),
        RefreshClaim::Held(_)
    ));
    f.store
        .release_token_refresh(&f.component, &appid, &owner)
        .await
        .unwrap();

    // Not authorized: declined, with the status on the record, lease or not.
    f.store
        .set_authorizer_status(&f.component, &appid, AuthorizerStatus::Unauthorized)
        .await
        .unwrap();
    let RefreshClaim::Declined(record) = f
        .store
        .claim_token_refresh(&f.component, &appid, &owner, 30, None)
        .await
        .unwrap()
    else {
        panic!("an unauthorized authorizer must not be claimed");
    };
    assert_eq!(record.status, AuthorizerStatus::Unauthorized);
    assert_eq!(record.refresh_token.expose(), "rt-2");

    // Unknown.
    assert!(matches!(
        f.store
            .claim_token_refresh(&f.component, &random_authorizer(), &owner, 30, None)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        f.store
            .release_token_refresh(&f.component, &random_authorizer(), &owner)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn thirty_two_racers_for_one_refresh_lease_yield_exactly_one_winner<S: Store + 'static>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();
    authorize(f, &appid, T0 + 100).await;
    let start = Arc::new(Barrier::new(32));
    let mut racers = Vec::new();
    for _ in 0..32 {
        let (store, component, appid, start) = (
            f.store.clone(),
            f.component.clone(),
            appid.clone(),
            start.clone(),
        );
        racers.push(tokio::spawn(async move {
            let owner = LeaseOwner::random();
            start.wait().await;
            let result = store
                .claim_token_refresh(&component, &appid, &owner, 60, Some(T0 + 100))
                .await;
            (owner, result)
        }));
    }
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            (owner, Ok(RefreshClaim::Claimed(_))) => winners.push(owner),
            (_, Ok(RefreshClaim::Held(_))) => {}
            (_, other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one racer may win");
    f.store
        .release_token_refresh(&f.component, &appid, &winners[0])
        .await
        .unwrap();
}

// ---- authorizers ------------------------------------------------------------------------------

async fn authorization_creates_version_one_and_reauthorization_stores_the_next_version<S: Store>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();

    let first = f
        .store
        .record_authorization(&f.component, &grant(&appid, "rt-1", T0 + 7200))
        .await
        .unwrap();
    assert_eq!(first.appid, appid);
    assert_eq!(first.status, AuthorizerStatus::Authorized);
    assert_eq!(first.refresh_token_version, 1);
    assert_eq!(first.access_token, token("at-rt-1", T0 + 7200));
    assert_eq!(first.func_info, vec![1, 15, 18]);
    assert_eq!((first.authorized_at, first.updated_at), (T0, T0));
    assert_eq!(
        f.store.authorizer(&f.component, &appid).await.unwrap(),
        Some(first)
    );

    f.clock.advance(100);
    let again = f
        .store
        .record_authorization(&f.component, &grant(&appid, "rt-2", T0 + 7300))
        .await
        .unwrap();
    assert_eq!(again.refresh_token_version, 2);
    assert_eq!(again.refresh_token.expose(), "rt-2");
    assert_eq!(again.authorized_at, T0 + 100);
}

async fn a_stale_refresh_token_write_conflicts_and_the_newer_value_stays<S: Store>(f: &Fixture<S>) {
    let appid = random_authorizer();
    authorize(f, &appid, T0 + 7200).await;
    let newer = TokenRefresh {
        based_on_version: 1,
        access_token: token("at-2", T0 + 7300),
        refresh_token: Some(Secret::new("rt-2")),
    };
    let stored = f
        .store
        .update_authorizer_tokens(&f.component, &appid, &newer)
        .await
        .unwrap();
    assert_eq!(stored.refresh_token_version, 2);

    // A second worker that also read version 1 arrives late.
    let stale = TokenRefresh {
        based_on_version: 1,
        access_token: token("at-stale", T0 + 7250),
        refresh_token: Some(Secret::new("rt-stale")),
    };
    let err = f
        .store
        .update_authorizer_tokens(&f.component, &appid, &stale)
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let kept = f
        .store
        .authorizer(&f.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.refresh_token.expose(), "rt-2");
    assert_eq!(kept.refresh_token_version, 2);
    assert_eq!(kept.access_token, token("at-2", T0 + 7300));
}

async fn thirty_two_writers_of_successive_refresh_token_versions_leave_the_highest<
    S: Store + 'static,
>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();
    authorize(f, &appid, T0 + 7200).await;
    // Writer k replaces version k with version k + 1; they start together in random order.
    let mut order: Vec<u64> = (1..=32).collect();
    order.sort_by_cached_key(|_| uuid::Uuid::new_v4());
    let start = Arc::new(Barrier::new(order.len()));
    let mut writers = Vec::new();
    for k in order {
        let (store, component, appid, start) = (
            f.store.clone(),
            f.component.clone(),
            appid.clone(),
            start.clone(),
        );
        writers.push(tokio::spawn(async move {
            let refresh = TokenRefresh {
                based_on_version: k,
                access_token: token(&format!("at-{}", k + 1), T0 + 7200 + k as i64),
                refresh_token: Some(Secret::new(format!("rt-{}", k + 1))),
            };
            start.wait().await;
            store
                .update_authorizer_tokens(&component, &appid, &refresh)
                .await
        }));
    }

    let mut written = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(_) => written += 1,
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }

    assert!(written >= 1);
    let stored = f
        .store
        .authorizer(&f.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_token_version, 33);
    assert_eq!(stored.refresh_token.expose(), "rt-33");
    assert_eq!(stored.access_token, token("at-33", T0 + 7232));
}

async fn an_access_token_refresh_without_a_new_refresh_token_keeps_token_and_version<S: Store>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();
    authorize(f, &appid, T0 + 7200).await;
    f.clock.advance(6000);

    let stored = f
        .store
        .update_authorizer_tokens(
            &f.component,
            &appid,
            &TokenRefresh {
                based_on_version: 1,
                access_token: token("at-2", T0 + 13_200),
                refresh_token: None,
            },
        )
        .await
        .unwrap();

    assert_eq!(stored.refresh_token.expose(), "rt-1");
    assert_eq!(stored.refresh_token_version, 1);
    assert_eq!(stored.access_token, token("at-2", T0 + 13_200));
    assert_eq!(stored.updated_at, T0 + 6000);
    assert_eq!(stored.authorized_at, T0);
    assert_eq!(
        f.store.authorizer(&f.component, &appid).await.unwrap(),
        Some(stored)
    );
}

async fn an_unauthorized_authorizer_keeps_its_record_and_leaves_the_due_index<S: Store>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();
    authorize(f, &appid, T0 + 100).await;
    assert_eq!(
        appids(
            &f.store
                .authorizer_tokens_due(&f.component, T0 + 600, 10)
                .await
                .unwrap()
        ),
        vec![appid.clone()]
    );

    f.store
        .set_authorizer_status(&f.component, &appid, AuthorizerStatus::Unauthorized)
        .await
        .unwrap();

    let kept = f
        .store
        .authorizer(&f.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.status, AuthorizerStatus::Unauthorized);
    assert_eq!(kept.refresh_token.expose(), "rt-1");
    assert_eq!(kept.refresh_token_version, 1);
    let due = f
        .store
        .authorizer_tokens_due(&f.component, T0 + 600, 10)
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");
    // A refresher that read it before the revocation must not write it back.
    let err = f
        .store
        .update_authorizer_tokens(
            &f.component,
            &appid,
            &TokenRefresh {
                based_on_version: 1,
                access_token: token("at-2", T0 + 7300),
                refresh_token: Some(Secret::new("rt-2")),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");

    f.store
        .set_authorizer_status(
            &f.component,
            &appid,
            AuthorizerStatus::ReauthorizationRequired,
        )
        .await
        .unwrap();
    assert!(
        f.store
            .authorizer_tokens_due(&f.component, T0 + 600, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Setting it back to authorized puts its token back on the refresher's list.
    f.store
        .set_authorizer_status(&f.component, &appid, AuthorizerStatus::Authorized)
        .await
        .unwrap();
    let due = f
        .store
        .authorizer_tokens_due(&f.component, T0 + 600, 10)
        .await
        .unwrap();
    assert_eq!(
        due,
        vec![DueToken {
            appid,
            expires_at: T0 + 100
        }]
    );
}

async fn updates_to_an_unknown_authorizer_are_not_found<S: Store>(f: &Fixture<S>) {
    let appid = random_authorizer();
    let refresh = TokenRefresh {
        based_on_version: 1,
        access_token: token("at", T0 + 7200),
        refresh_token: None,
    };

    let results = [
        f.store
            .update_authorizer_tokens(&f.component, &appid, &refresh)
            .await
            .map(|_| ()),
        f.store
            .set_authorizer_status(&f.component, &appid, AuthorizerStatus::Unauthorized)
            .await,
        f.store
            .set_account_info(&f.component, &appid, &account("nobody"))
            .await,
    ];

    for result in results {
        assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    }
    assert_eq!(
        f.store.authorizer(&f.component, &appid).await.unwrap(),
        None
    );
}

async fn account_info_is_stored_and_kept_across_reauthorization<S: Store>(f: &Fixture<S>) {
    let appid = random_authorizer();
    authorize(f, &appid, T0 + 7200).await;

    f.store
        .set_account_info(&f.component, &appid, &account("Shop"))
        .await
        .unwrap();
    f.store
        .record_authorization(&f.component, &grant(&appid, "rt-2", T0 + 7200))
        .await
        .unwrap();
    let kept = f
        .store
        .authorizer(&f.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.account, Some(account("Shop")));

    let mut with_account = grant(&appid, "rt-3", T0 + 7200);
    with_account.account = Some(account("Shop 2"));
    let replaced = f
        .store
        .record_authorization(&f.component, &with_account)
        .await
        .unwrap();
    assert_eq!(replaced.account, Some(account("Shop 2")));
}

fn settings(json: &str) -> AuthorizerSettings {
    serde_json::from_str(json).expect("valid settings")
}

async fn stored_settings<S: Store>(
    f: &Fixture<S>,
    appid: &AuthorizerAppId,
) -> Option<AuthorizerSettings> {
    f.store
        .authorizer_settings(&f.component, appid)
        .await
        .unwrap()
}

async fn settings_are_kept_beside_the_tokens_and_across_reauthorization<S: Store>(f: &Fixture<S>) {
    let appid = random_authorizer();
    // No authorizer: nothing to read, nothing written.
    assert_eq!(stored_settings(f, &appid).await, None);
    assert!(matches!(
        f.store
            .put_authorizer_settings(&f.component, &appid, &settings(r#"{"shop_id": "s-1"}"#))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        f.store.authorizer(&f.component, &appid).await.unwrap(),
        None
    );

    authorize(f, &appid, T0 + 7200).await;
    assert_eq!(
        stored_settings(f, &appid).await,
        Some(AuthorizerSettings::default())
    );
    let first = settings(r#"{"shop_id": "s-1", "tables": 12, "beta": true}"#);
    f.store
        .put_authorizer_settings(&f.component, &appid, &first)
        .await
        .unwrap();
    assert_eq!(stored_settings(f, &appid).await, Some(first.clone()));

    // The tokens are the same after the write, and a refresh and a re-authorization keep the
    // settings.
    let stored = f
        .store
        .authorizer(&f.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_token.expose(), "rt-1");
    assert_eq!(stored.refresh_token_version, 1);
    f.store
        .update_authorizer_tokens(
            &f.component,
            &appid,
            &TokenRefresh {
                based_on_version: 1,
                access_token: token("at-2", T0 + 9000),
                refresh_token: Some(Secret::new("rt-2")),
            },
        )
        .await
        .unwrap();
    f.store
        .record_authorization(&f.component, &grant(&appid, "rt-3", T0 + 7200))
        .await
        .unwrap();
    assert_eq!(stored_settings(f, &appid).await, Some(first));
    let stored = f
        .store
        .authorizer(&f.component, &appid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_token.expose(), "rt-3");
    assert_eq!(stored.refresh_token_version, 3);

    // A put replaces them whole; another component's authorizer of the same appid has none.
    let second = settings(r#"{"theme": "green"}"#);
    f.store
        .put_authorizer_settings(&f.component, &appid, &second)
        .await
        .unwrap();
    assert_eq!(stored_settings(f, &appid).await, Some(second));
    let other = f.as_component(random_component());
    authorize(&other, &appid, T0 + 7200).await;
    assert_eq!(
        stored_settings(&other, &appid).await,
        Some(AuthorizerSettings::default())
    );
}

async fn listing_pages_through_every_authorizer_with_an_opaque_cursor<S: Store>(f: &Fixture<S>) {
    let mut expected: Vec<AuthorizerAppId> = Vec::new();
    for _ in 0..7 {
        let appid = random_authorizer();
        authorize(f, &appid, T0 + 7200).await;
        expected.push(appid);
    }
    f.store
        .set_authorizer_status(&f.component, &expected[2], AuthorizerStatus::Unauthorized)
        .await
        .unwrap();
    // Another component's authorizers never show up.
    f.store
        .record_authorization(
            &random_component(),
            &grant(&random_authorizer(), "x", T0 + 1),
        )
        .await
        .unwrap();
    expected.sort();

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = f
            .store
            .list_authorizers(&f.component, 3, cursor.as_ref())
            .await
            .unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.into_iter().map(|a| a.appid));
        match page.next {
            Some(next) => cursor = Some(Cursor::from_string(next.as_str())),
            None => break,
        }
    }

    assert_eq!(seen, expected, "every authorizer once, in appid order");
    assert_eq!(pages, 3);
    let exact = f
        .store
        .list_authorizers(&f.component, 7, None)
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 7);
    assert_eq!(exact.next, None, "no cursor to an empty page");
}

async fn a_forged_cursor_is_refused<S: Store>(f: &Fixture<S>) {
    for forged in ["", "not-hex", "2f2e2e2f"] {
        let result = f
            .store
            .list_authorizers(&f.component, 10, Some(&Cursor::from_string(forged)))
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidCursor)),
            "{forged:?}: {result:?}"
        );
    }
}

async fn authorizers_are_counted_by_status<S: Store>(f: &Fixture<S>) {
    let mut appids = Vec::new();
    for _ in 0..6 {
        let appid = random_authorizer();
        authorize(f, &appid, T0 + 7200).await;
        appids.push(appid);
    }
    f.store
        .set_authorizer_status(&f.component, &appids[0], AuthorizerStatus::Unauthorized)
        .await
        .unwrap();
    f.store
        .set_authorizer_status(&f.component, &appids[1], AuthorizerStatus::Unauthorized)
        .await
        .unwrap();
    f.store
        .set_authorizer_status(
            &f.component,
            &appids[2],
            AuthorizerStatus::ReauthorizationRequired,
        )
        .await
        .unwrap();
    authorize(f, &appids[1], T0 + 7200).await;
    authorize(
        &f.as_component(random_component()),
        &random_authorizer(),
        T0,
    )
    .await;

    let counts = f
        .store
        .count_authorizers_by_status(&f.component)
        .await
        .unwrap();

    assert_eq!(
        counts,
        StatusCounts {
            authorized: 4,
            unauthorized: 1,
            reauthorization_required: 1,
        }
    );
}

async fn the_due_query_returns_authorized_tokens_expiring_by_the_deadline_earliest_first<
    S: Store,
>(
    f: &Fixture<S>,
) {
    let [a, b, c, revoked, reauth] = std::array::from_fn(|_| random_authorizer());
    authorize(f, &b, T0 + 200).await;
    authorize(f, &a, T0 + 100).await;
    authorize(f, &c, T0 + 5000).await;
    authorize(f, &revoked, T0 + 50).await;
    authorize(f, &reauth, T0 + 60).await;
    f.store
        .set_authorizer_status(&f.component, &revoked, AuthorizerStatus::Unauthorized)
        .await
        .unwrap();
    f.store
        .set_authorizer_status(
            &f.component,
            &reauth,
            AuthorizerStatus::ReauthorizationRequired,
        )
        .await
        .unwrap();
    authorize(
        &f.as_component(random_component()),
        &random_authorizer(),
        T0,
    )
    .await;

    let due = f
        .store
        .authorizer_tokens_due(&f.component, T0 + 300, 10)
        .await
        .unwrap();
    assert_eq!(
        due,
        vec![
            DueToken {
                appid: a.clone(),
                expires_at: T0 + 100
            },
            DueToken {
                appid: b.clone(),
                expires_at: T0 + 200
            },
        ]
    );
    let first = f
        .store
        .authorizer_tokens_due(&f.component, T0 + 300, 1)
        .await
        .unwrap();
    assert_eq!(appids(&first), vec![a.clone()]);
    assert!(
        f.store
            .authorizer_tokens_due(&f.component, T0 + 300, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // Refreshing moves a token out of the window; an earlier expiry moves one in.
    f.store
        .update_authorizer_tokens(
            &f.component,
            &a,
            &TokenRefresh {
                based_on_version: 1,
                access_token: token("at-a2", T0 + 7300),
                refresh_token: None,
            },
        )
        .await
        .unwrap();
    f.store
        .update_authorizer_tokens(
            &f.component,
            &c,
            &TokenRefresh {
                based_on_version: 1,
                access_token: token("at-c2", T0 + 250),
                refresh_token: None,
            },
        )
        .await
        .unwrap();
    let due = f
        .store
        .authorizer_tokens_due(&f.component, T0 + 300, 10)
        .await
        .unwrap();
    assert_eq!(appids(&due), vec![b, c]);
}

// ---- completed authorizations and audits ------------------------------------------------------------------------

async fn a_completed_authorization_is_found_by_its_code_digest_until_its_retention_ends<
    S: Store,
>(
    f: &Fixture<S>,
) {
    let code = Secret::new(format!("queryauthcode@@@{}", random_authorizer()));
    let digest = AuthCodeDigest::of(&code);
    let appid = random_authorizer();
    // The digest does not carry the code.
    assert!(!digest.as_str().contains(code.expose()));
    assert_eq!(digest.as_str().len(), 64);
    assert_eq!(
        f.store
            .completed_authorization(&f.component, &digest)
            .await
            .unwrap(),
        None
    );

    f.store
        .remember_completed_authorization(&f.component, &digest, &appid)
        .await
        .unwrap();
    // Remembering again (the second path) is harmless.
    f.store
        .remember_completed_authorization(&f.component, &digest, &appid)
        .await
        .unwrap();

    assert_eq!(
        f.store
            .completed_authorization(&f.component, &digest)
            .await
            .unwrap(),
        Some(appid.clone())
    );
    // Per component, and per code.
    let other = AuthCodeDigest::of(&Secret::new("queryauthcode@@@other"));
    assert_eq!(
        f.store
            .completed_authorization(&random_component(), &digest)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        f.store
            .completed_authorization(&f.component, &other)
            .await
            .unwrap(),
        None
    );

    f.clock.advance(COMPLETED_AUTHORIZATION_RETENTION_SECS - 1);
    assert!(
        f.store
            .completed_authorization(&f.component, &digest)
            .await
            .unwrap()
            .is_some()
    );
    f.clock.advance(1);
    assert_eq!(
        f.store
            .completed_authorization(&f.component, &digest)
            .await
            .unwrap(),
        None
    );
}

async fn events_are_recorded_once_listed_unsent_oldest_first_and_leave_the_list_when_sent<
    S: Store,
>(
    f: &Fixture<S>,
) {
    use wxcomponent::events::{DetailType, ProductEvent};
    let c = &f.component;
    let appid = random_authorizer();
    let event = |key: &str, at: i64| {
        ProductEvent::new(c, DetailType::AuthorizerMessage, key, at)
            .about(&appid)
            .with("msg_type", "text")
    };
    let unsent = |limit: usize| async move { f.store.unsent_events(c, limit).await.unwrap() };
    assert_eq!(unsent(10).await, vec![]);
    let (late, early, middle) = (event("c", T0 + 20), event("a", T0), event("b", T0 + 10));
    f.store
        .record_events(c, &[late.clone(), early.clone()])
        .await
        .unwrap();
    f.store
        .record_events(c, std::slice::from_ref(&middle))
        .await
        .unwrap();
    // The same event recorded again is one event.
    f.store
        .record_events(c, std::slice::from_ref(&early))
        .await
        .unwrap();
    assert_eq!(
        unsent(10).await,
        vec![early.clone(), middle.clone(), late.clone()]
    );
    assert_eq!(unsent(2).await, vec![early.clone(), middle.clone()]);
    let other = f.as_component(random_component());
    assert_eq!(
        other
            .store
            .unsent_events(&other.component, 10)
            .await
            .unwrap(),
        vec![],
        "each component has its own"
    );

    let to_mark: Vec<_> = f
        .store
        .unsent_events(c, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.id != middle.id)
        .map(|e| e.id)
        .collect();
    assert_eq!(to_mark.len(), 2);
    f.store.mark_events_sent(c, &to_mark).await.unwrap();
    assert_eq!(unsent(10).await, vec![middle.clone()]);
    let never = event("never recorded", T0);
    assert_eq!(
        f.store
            .unsent_among(c, &[early.id.clone(), middle.id.clone(), never.id])
            .await
            .unwrap(),
        vec![middle.id.clone()],
        "only what is recorded and waits"
    );
    // Marking again changes nothing; a sent event recorded again stays sent.
    f.store.mark_events_sent(c, &to_mark).await.unwrap();
    f.store
        .record_events(c, std::slice::from_ref(&early))
        .await
        .unwrap();
    assert_eq!(unsent(10).await, vec![middle]);
}

async fn withdrawals_are_counted_per_day_and_month_up_to_wechats_limits<S: Store>(f: &Fixture<S>) {
    let (appid, other) = (random_authorizer(), random_authorizer());
    let (c, day) = (&f.component, 20260105);
    let count = |day: u32, month: u32| WithdrawalCount { day, month };
    assert_eq!(
        f.store.withdrawals(c, &appid, day).await.unwrap(),
        count(0, 0)
    );
    for n in 1..=WITHDRAWALS_PER_DAY {
        assert_eq!(
            f.store.take_withdrawal(c, &appid, day).await.unwrap(),
            count(n, n)
        );
    }
    assert!(matches!(
        f.store.take_withdrawal(c, &appid, day).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        f.store.withdrawals(c, &appid, day).await.unwrap(),
        count(5, 5)
    );
    assert_eq!(
        f.store.withdrawals(c, &other, day).await.unwrap(),
        count(0, 0),
        "each mini program has its own"
    );

    // A given-back withdrawal may be taken again; nothing goes below zero.
    f.store.return_withdrawal(c, &appid, day).await.unwrap();
    assert_eq!(
        f.store.withdrawals(c, &appid, day).await.unwrap(),
        count(4, 4)
    );
    f.store.take_withdrawal(c, &appid, day).await.unwrap();
    f.store.return_withdrawal(c, &other, day).await.unwrap();
    assert_eq!(
        f.store.withdrawals(c, &other, day).await.unwrap(),
        count(0, 0)
    );

    // The next day of the month: five more, then the month's ten are spent.
    let next = day + 1;
    assert_eq!(
        f.store.withdrawals(c, &appid, next).await.unwrap(),
        count(0, 5)
    );
    for _ in 0..5 {
        f.store.take_withdrawal(c, &appid, next).await.unwrap();
    }
    assert_eq!(
        f.store.withdrawals(c, &appid, next).await.unwrap(),
        count(5, 10)
    );
    assert!(matches!(
        f.store.take_withdrawal(c, &appid, next + 1).await,
        Err(StoreError::Conflict)
    ));
    // A new month starts from nothing.
    assert_eq!(
        f.store.take_withdrawal(c, &appid, 20260201).await.unwrap(),
        count(1, 1)
    );

    // WeChat said 87013: the day is spent, whatever was counted.
    f.store.spend_withdrawals(c, &other, day).await.unwrap();
    assert!(f.store.withdrawals(c, &other, day).await.unwrap().spent());
    assert!(matches!(
        f.store.take_withdrawal(c, &other, day).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        f.store
            .take_withdrawal(c, &other, day + 1)
            .await
            .unwrap()
            .day,
        1
    );
}

async fn sixteen_racers_for_the_days_withdrawals_take_exactly_five<S: Store + 'static>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();
    let start = Arc::new(Barrier::new(16));
    let mut racers = Vec::new();
    for _ in 0..16 {
        let (store, component, appid, start) = (
            f.store.clone(),
            f.component.clone(),
            appid.clone(),
            start.clone(),
        );
        racers.push(tokio::spawn(async move {
            start.wait().await;
            store.take_withdrawal(&component, &appid, 20260105).await
        }));
    }
    let mut taken = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(count) => taken.push(count.day),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    taken.sort_unstable();
    assert_eq!(taken, vec![1, 2, 3, 4, 5], "each count is taken once");
}

async fn audit_state_round_trips_and_an_older_audit_never_replaces_a_newer_one<S: Store>(
    f: &Fixture<S>,
) {
    let appid = random_authorizer();
    assert_eq!(
        f.store.audit_state(&f.component, &appid).await.unwrap(),
        None
    );
    let pending = AuditState {
        audit_id: 42,
        status: AuditStatus::Pending,
        reason: None,
        submitted_at: T0,
        updated_at: T0,
        auto_release: true,
        campaign: None,
    };
    f.store
        .put_audit_state(&f.component, &appid, &pending)
        .await
        .unwrap();
    let failed = AuditState {
        status: AuditStatus::Failed,
        reason: Some("类目不符".to_owned()),
        updated_at: T0 + 3600,
        ..pending.clone()
    };
    f.store
        .put_audit_state(&f.component, &appid, &failed)
        .await
        .unwrap();
    assert_eq!(
        f.store.audit_state(&f.component, &appid).await.unwrap(),
        Some(failed.clone())
    );

    let older = AuditState {
        audit_id: 41,
        status: AuditStatus::Succeeded,
        ..pending
    };
    let err = f
        .store
        .put_audit_state(&f.component, &appid, &older)
        .await
        .unwrap_err();

    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(
        f.store.audit_state(&f.component, &appid).await.unwrap(),
        Some(failed)
    );
}

// ---- DynamoDB only: one schema, and a due query that reads only what is due ---------------------

mod dynamodb_only {
    use super::*;
    use aws_sdk_dynamodb::types::{IndexStatus, TimeToLiveStatus};
    use wxcomponent::store::schema::TTL;
    use wxcomponent_tests::schema::{
        SchemaError, TEMPLATE_YAML, TableDefinition, create_table_from_template,
    };

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_test_table_is_the_table_of_template_yaml() {
        let fixture = crate::store_contract::support::dynamo_fixture().await;
        let client = wxcomponent_tests::app::dynamodb_client().await;
        let table = fixture.store.table_name();
        let defined = TableDefinition::from_bundled_template().unwrap();

        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let ttl = client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .unwrap()
            .time_to_live_description
            .unwrap();

        assert_eq!(described.key_schema(), defined.key_schema.as_slice());
        let mut names: Vec<_> = described
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                assert_eq!(g.index_status(), Some(&IndexStatus::Active));
                let wanted = defined
                    .global_secondary_indexes
                    .iter()
                    .find(|d| Some(d.index_name()) == g.index_name())
                    .expect("index from the template");
                assert_eq!(g.key_schema(), wanted.key_schema());
                g.index_name().unwrap().to_owned()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["by_status", "due", "outbox", "work"]);
        assert_eq!(ttl.attribute_name(), Some(TTL));
        assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

        // Local runs may create it again: reported, not fatal.
        assert!(matches!(
            create_table_from_template(&client, TEMPLATE_YAML, table).await,
            Err(SchemaError::AlreadyExists(_))
        ));
        assert!(!defined.ensure_table(&client, table).await.unwrap());
        fixture.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_due_query_reads_only_the_due_items_among_two_thousand_authorizers() {
        let f = crate::store_contract::support::dynamo_fixture().await;
        const AUTHORIZERS: i64 = 2_000;
        const DUE: i64 = 7;
        // Due tokens expire within the next minutes, the rest spread over the next hours; a
        // hundred revoked authorizers with early expiries are not in the index at all.
        let mut authorizers: Vec<Authorizer> = (0..AUTHORIZERS)
            .map(|i| {
                let expires_at = if i < DUE {
                    T0 + 60 + i
                } else {
                    T0 + 3600 + i * 3
                };
                Authorizer {
                    appid: random_authorizer(),
                    status: AuthorizerStatus::Authorized,
                    refresh_token: Secret::new(format!("rt-{i}")),
                    refresh_token_version: 1,
                    access_token: token(&format!("at-{i}"), expires_at),
                    func_info: vec![1],
                    account: None,
                    authorized_at: T0 - 3600,
                    updated_at: T0 - 3600,
                }
            })
            .collect();
        authorizers.extend((0..100).map(|i| Authorizer {
            appid: random_authorizer(),
            status: AuthorizerStatus::Unauthorized,
            refresh_token: Secret::new("rt"),
            refresh_token_version: 1,
            access_token: token("at", T0 + i),
            func_info: vec![],
            account: None,
            authorized_at: T0 - 3600,
            updated_at: T0 - 3600,
        }));
        f.store
            .import_authorizers(&f.component, &authorizers)
            .await
            .unwrap();
        assert_eq!(
            f.store
                .count_authorizers_by_status(&f.component)
                .await
                .unwrap()
                .authorized,
            AUTHORIZERS as u64
        );

        let (due, stats) = f
            .store
            .authorizer_tokens_due_with_stats(&f.component, T0 + 600, 100)
            .await
            .unwrap();

        eprintln!(
            "due query over {AUTHORIZERS} authorized (+100 revoked) authorizers: {} due returned, \
             {stats:?}",
            due.len()
        );
        assert_eq!(due.len() as i64, DUE);
        assert!(due.windows(2).all(|w| w[0].expires_at <= w[1].expires_at));
        assert_eq!(
            stats.scanned_count, DUE as u64,
            "the query must read only the due items"
        );
        assert_eq!(stats.queries, wxcomponent::store::dynamo::DUE_SHARDS);
        f.finish().await;
    }
}

// ---- the console --------------------------------------------------------------------------------

async fn a_console_session_is_found_by_its_digest_until_it_expires_or_is_ended<S: Store>(
    f: &Fixture<S>,
) {
    let session = |digest: &str| ConsoleSession {
        id_digest: digest.to_owned(),
        created_at: T0,
        expires_at: T0 + 3600,
    };
    assert_eq!(
        f.store.console_session(&f.component, "aa").await.unwrap(),
        None
    );
    f.store
        .put_console_session(&f.component, &session("aa"))
        .await
        .unwrap();
    f.store
        .put_console_session(&f.component, &session("bb"))
        .await
        .unwrap();
    assert_eq!(
        f.store.console_session(&f.component, "aa").await.unwrap(),
        Some(session("aa"))
    );
    let other = f.as_component(random_component());
    assert_eq!(
        other
            .store
            .console_session(&other.component, "aa")
            .await
            .unwrap(),
        None,
        "another component's sessions are its own"
    );
    f.store
        .delete_console_session(&f.component, "aa")
        .await
        .unwrap();
    f.store
        .delete_console_session(&f.component, "aa")
        .await
        .expect("ending an ended session is no error");
    assert_eq!(
        f.store.console_session(&f.component, "aa").await.unwrap(),
        None
    );
    assert!(
        f.store
            .console_session(&f.component, "bb")
            .await
            .unwrap()
            .is_some()
    );
    f.clock.advance(3600);
    assert_eq!(
        f.store.console_session(&f.component, "bb").await.unwrap(),
        None,
        "an expired session is gone"
    );
}

async fn failed_sign_ins_are_counted_per_client_and_window<S: Store>(f: &Fixture<S>) {
    let window = T0 - T0 % 900;
    assert_eq!(
        f.store
            .failed_sign_ins(&f.component, "192.0.2.1", window)
            .await
            .unwrap(),
        0
    );
    for expected in 1..=3 {
        assert_eq!(
            f.store
                .add_failed_sign_in(&f.component, "192.0.2.1", window, window + 1800)
                .await
                .unwrap(),
            expected
        );
    }
    f.store
        .add_failed_sign_in(&f.component, "192.0.2.2", window, window + 1800)
        .await
        .unwrap();
    assert_eq!(
        f.store
            .failed_sign_ins(&f.component, "192.0.2.1", window)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        f.store
            .failed_sign_ins(&f.component, "192.0.2.1", window + 900)
            .await
            .unwrap(),
        0,
        "the next window starts again"
    );
    assert_eq!(
        f.store
            .failed_sign_ins(&f.component, "192.0.2.2", window)
            .await
            .unwrap(),
        1
    );
}

async fn the_refresher_run_is_replaced_by_the_next<S: Store>(f: &Fixture<S>) {
    assert_eq!(f.store.refresher_run(&f.component).await.unwrap(), None);
    let run = |finished_at, failed| RefresherRun {
        finished_at,
        due: 5,
        refreshed: 5 - failed,
        failed,
        failed_by_errcode: [("61023".to_owned(), failed)].into_iter().collect(),
        reauthorization_required: 0,
        unauthorized: 0,
        stopped_early: false,
    };
    f.store
        .put_refresher_run(&f.component, &run(T0, 2))
        .await
        .unwrap();
    f.store
        .put_refresher_run(&f.component, &run(T0 + 300, 1))
        .await
        .unwrap();
    assert_eq!(
        f.store.refresher_run(&f.component).await.unwrap(),
        Some(run(T0 + 300, 1))
    );
}

async fn recent_events_are_listed_latest_first_once_each_for_a_week<S: Store>(f: &Fixture<S>) {
    use wxcomponent::events::{DetailType, ProductEvent};
    let appid = random_authorizer();
    let event = |key: &str, at| {
        let mut event = ProductEvent::new(&f.component, DetailType::ALL[0], key, at);
        event.authorizer = Some(appid.clone());
        RecentEvent::from(&event)
    };
    let (old, mid, new) = (event("a", T0 - 100), event("b", T0 - 50), event("c", T0));
    f.store
        .note_recent_events(&f.component, &[mid.clone(), old.clone()])
        .await
        .unwrap();
    f.store
        .note_recent_events(&f.component, &[new.clone(), mid.clone()])
        .await
        .unwrap();
    assert_eq!(
        f.store.recent_events(&f.component, 10).await.unwrap(),
        vec![new.clone(), mid.clone(), old.clone()]
    );
    assert_eq!(
        f.store.recent_events(&f.component, 2).await.unwrap(),
        vec![new.clone(), mid]
    );
    f.clock.advance(RECENT_EVENT_RETENTION_SECS - 25);
    assert_eq!(
        f.store.recent_events(&f.component, 10).await.unwrap(),
        vec![new],
        "older than a week is gone"
    );
}
