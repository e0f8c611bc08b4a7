#!/usr/bin/env bash
# `make dev`: the whole product on this machine. Installs what is missing, starts DynamoDB Local and
# creates the table from template.yaml, starts wechat-sim (a loopback WeChat), and serves every function
# with `cargo lambda watch`. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
SIM_PORT="${SIM_PORT:-9100}"
LAMBDA_PORT="${LAMBDA_PORT:-9000}"
BUS_PORT="${BUS_PORT:-9200}"

for port in "$DYNAMODB_PORT" "$SIM_PORT" "$LAMBDA_PORT" "$BUS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is already in use (set DYNAMODB_PORT / SIM_PORT / LAMBDA_PORT / BUS_PORT)" >&2
    exit 1
  fi
done

ensure_rust_components
ensure_python_tools
ensure_dynamodb_local
# cargo-lambda finds zig only through the virtualenv's python3.
export PATH="$VENV/bin:$PATH"

# Development values: a made-up component that wechat-sim plays WeChat for. Never use them for real.
export WECHAT_COMPONENT_APPID=wxd0000000000dev01
export WECHAT_COMPONENT_SECRET=dev-component-secret
export WECHAT_TOKEN=dev-message-token
export WECHAT_ENCODING_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
export WECHAT_API_BASE_URL="http://127.0.0.1:$SIM_PORT"
# auth-redirect sends browsers to WeChat's PC or mobile authorization page; wechat-sim serves both.
export WECHAT_AUTH_PAGE_BASE_URL="http://127.0.0.1:$SIM_PORT"
export WECHAT_MOBILE_AUTH_PAGE_BASE_URL="http://127.0.0.1:$SIM_PORT"
export TABLE_NAME=wxcomponent-dev
DEV_API_KEY=dev-api-key
API_KEY_SHA256="$(printf %s "$DEV_API_KEY" | sha256sum | cut -d' ' -f1)"
export API_KEY_SHA256
# The operators' console signs in with this development key.
DEV_CONSOLE_KEY=dev-console-key
CONSOLE_KEY_SHA256="$(printf %s "$DEV_CONSOLE_KEY" | sha256sum | cut -d' ' -f1)"
export CONSOLE_KEY_SHA256
LAMBDA_URL="http://127.0.0.1:$LAMBDA_PORT/lambda-url"
export AUTH_CALLBACK_URL="$LAMBDA_URL/auth-redirect/auth/callback"
# Web authorization of official accounts' users may return to wechat-sim's stand-in for the provider's
# page; its result is signed with this development key.
export OAUTH_REDIRECT_HOSTS="127.0.0.1:$SIM_PORT"
export AUTH_SIGNING_SECRET=dev-signing-secret-0123456789abcdef
# The provider's name on the authorization pages.
export BRAND_NAME="示例服务商 (dev)"
export RUST_LOG="${RUST_LOG:-info}"
# The product's events go to a loopback EventBridge (fake-eventbridge), through the SDK's own variable.
export EVENT_BUS_NAME=wxcomponent-dev
export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$BUS_PORT"
DEV_TICKET=ticket@@@dev-local-ticket

log "building"
cargo build --workspace --bins
BIN="${CARGO_TARGET_DIR:-target}/debug"

start_dynamodb_local "$DYNAMODB_PORT"
"$BIN/dev-table" --name "$TABLE_NAME"

log "starting wechat-sim on 127.0.0.1:$SIM_PORT"
# Short delays, so a release campaign runs to its end in a minute: WeChat's privacy check of committed
# code takes about a minute, an audit hours to days.
"$BIN/wechat-sim" --port "$SIM_PORT" --ticket "$DEV_TICKET" --privacy-check-delay 10 --audit-delay 20 \
  >"$TOOLS_DIR/wechat-sim.log" 2>&1 &
add_cleanup "kill $! 2>/dev/null || true"
for _ in $(seq 1 50); do
  curl -s -o /dev/null "$WECHAT_API_BASE_URL/__sim/calls" && break
  sleep 0.1
done
log "starting fake-eventbridge on 127.0.0.1:$BUS_PORT"
"$BIN/fake-eventbridge" --port "$BUS_PORT" >"$TOOLS_DIR/events.log" 2>&1 &
add_cleanup "kill $! 2>/dev/null || true"

# Where the sim pushes, as WeChat pushes to the URLs set in its console: authorizations to the
# ticket-callback's component route, audit results to its message route.
curl -s -o /dev/null -X PUT -H 'Content-Type: application/json' "$WECHAT_API_BASE_URL/__sim/push-targets" \
  -d "{\"authorization_event_url\": \"$LAMBDA_URL/ticket-callback/wechat/component\", \"message_url\": \"$LAMBDA_URL/ticket-callback/wechat/message/\$APPID\$\"}"

cat <<MSG

The product is starting on http://127.0.0.1:$LAMBDA_PORT (cargo lambda watch; first requests wait for a build).
  DynamoDB Local  $AWS_ENDPOINT_URL_DYNAMODB   table $TABLE_NAME
  wechat-sim      $WECHAT_API_BASE_URL   (log: .tools/wechat-sim.log)
  events          $AWS_ENDPOINT_URL_EVENTBRIDGE   (fake EventBridge: every event as a JSON line in .tools/events.log,
                  all of them at $AWS_ENDPOINT_URL_EVENTBRIDGE/events; see docs/events.md)

The operators' console: $LAMBDA_URL/console/console/   key: $DEV_CONSOLE_KEY
  (overview, authorizers, authorization links with their QR code, releases; Chinese, or English when
  the browser prefers it)

Try it, from another terminal in this directory:

  1. Push a component_verify_ticket exactly as WeChat would:
       printf '<xml><AppId>$WECHAT_COMPONENT_APPID</AppId><CreateTime>%s</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>$DEV_TICKET</ComponentVerifyTicket></xml>' "\$(date +%s)" \\
         | $BIN/wxmsg push --url $LAMBDA_URL/ticket-callback/wechat/component \\
             --token $WECHAT_TOKEN --aes-key $WECHAT_ENCODING_AES_KEY --appid $WECHAT_COMPONENT_APPID

  2. Authorize a merchant: open $LAMBDA_URL/auth-redirect/auth?auth_type=3 in a browser, click
     "Authorize", then wechat-sim's stand-in for WeChat's page, and land on the success page.

  3. Call the API with the development key:
       curl -s -H 'Authorization: Bearer $DEV_API_KEY' $LAMBDA_URL/api/health
       curl -s -H 'Authorization: Bearer $DEV_API_KEY' $LAMBDA_URL/api/authorizers

  4. Run the refresher once:
       PATH=$VENV/bin:\$PATH cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $LAMBDA_PORT token-refresher --data-ascii '{}'

  5. Release a template to every mini program (after step 1). Two more merchants authorize (wechat-sim
     pushes the authorizations to the ticket-callback), then a campaign starts and the worker runs it:
       for i in 1 2; do curl -s -X POST -H 'Content-Type: application/json' $WECHAT_API_BASE_URL/__sim/push/authorized \\
         -d "{\\"authorizer_appid\\": \\"wx00000000000dev0\$i\\"}"; echo; done
       curl -s -X POST -H 'Authorization: Bearer $DEV_API_KEY' $LAMBDA_URL/api/campaigns \\
         -d '{"template_id": 3, "user_version": "1.0.1", "user_desc": "first release", "ext_json": {"extAppid": "{{appid}}"}, "waves": [50, 100]}'
     Then every 15 s or so, for about two minutes (commit; the privacy check, 10 s here, which the worker
     asks about every 30 s; the audit, 20 s here, pushed by wechat-sim; the release; then the second wave;
     deployed, a schedule runs the worker every minute):
       PATH=$VENV/bin:\$PATH cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $LAMBDA_PORT campaign-worker --data-ascii '{}'
       curl -s -H 'Authorization: Bearer $DEV_API_KEY' $LAMBDA_URL/api/campaigns
     until the campaign's "state" is "done" and its "counts" show every app "released". Each app's errcode and
     hint: GET $LAMBDA_URL/api/campaigns/<id>/apps

  6. An official account (after step 1): it authorizes (wechat-sim pushes it), a user of one of its pages
     is authorized through /oauth (curl follows WeChat's stand-in page and keeps the state cookie) and lands
     on the stand-in for the provider's page with the signed openid; then the provider reads the profile and
     signs wx.config for a page:
       curl -s -X POST -H 'Content-Type: application/json' $WECHAT_API_BASE_URL/__sim/push/authorized \\
         -d '{"authorizer_appid": "wx00000000000dev0a", "official_account": true}'; echo
       curl -s -L -c .tools/oauth-cookies -b .tools/oauth-cookies -o /dev/null -w '%{url_effective}\\n' \\
         "$LAMBDA_URL/auth-redirect/oauth/wx00000000000dev0a/authorize?scope=snsapi_userinfo&state=dev-1&redirect_uri=$WECHAT_API_BASE_URL/__sim/landing"
       curl -s -H 'Authorization: Bearer $DEV_API_KEY' $LAMBDA_URL/api/authorizers/wx00000000000dev0a/web-users/oSim00000000000dev0a
       curl -s -G -H 'Authorization: Bearer $DEV_API_KEY' $LAMBDA_URL/api/authorizers/wx00000000000dev0a/jssdk-config \\
         --data-urlencode 'url=https://h5.example.com/page?x=1'
     The last URL printed carries appid, openid, unionid, scope, state, ts and sig (HMAC-SHA256 with
     AUTH_SIGNING_SECRET=$AUTH_SIGNING_SECRET; see docs/official-accounts.md).

  7. See what the provider's systems were told (Authorizer Authorized, Audit Succeeded, Code Released,
     Campaign State Changed...):
       tail -f .tools/events.log
       curl -s $AWS_ENDPOINT_URL_EVENTBRIDGE/events

Ctrl-C stops everything.

MSG

log "cargo lambda watch on 127.0.0.1:$LAMBDA_PORT"
# --timeout only bounds how long an invoke request waits. The deadline watch hands the functions is
# the same fixed value (600,000 ms after the epoch) whatever it is; the refresher takes that for no
# deadline and assumes 60 s.
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" --timeout 300
