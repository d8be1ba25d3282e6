#!/usr/bin/env bash
# Installs what is needed, builds, and starts the demo on 127.0.0.1: nginx with our module,
# the mock IdP, a directory (slapd) and a sample upstream that shows the identity headers it
# receives. Ports: DEMO_PORT (8080), DEMO_IDP_PORT (8081), DEMO_UPSTREAM_PORT (8082); the
# directory takes free ports. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bash scripts/deps.sh
BUILD_DIR=build bash scripts/build.sh > /dev/null

port=${DEMO_PORT:-8080}
idp_port=${DEMO_IDP_PORT:-8081}
upstream_port=${DEMO_UPSTREAM_PORT:-8082}
dir=${DEMO_DIR:-/tmp/nginx-sso-demo}
python=/usr/bin/python3
rm -rf "$dir"
mkdir -p "$dir"/{body,proxy,fastcgi,uwsgi,scgi}

bash t/mockidp/make_keys.sh "$dir"
"$python" t/mockidp/mockidp.py metadata --entity-id "http://127.0.0.1:$idp_port/metadata" \
  --base-url "http://127.0.0.1:$idp_port" --cert "$dir/idp.crt" > "$dir/idp-metadata.xml"
sed -e "s|@MODULE@|$repo/build/ngx_http_sso_module.so|" -e "s|@DIR@|$dir|g" \
  -e "s|@PORT@|$port|g" -e "s|@UPSTREAM_PORT@|$upstream_port|g" conf/demo.conf > "$dir/nginx.conf"

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

wait_port() {  # polls until something accepts connections on 127.0.0.1:$1
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1; see $dir/*.out" >&2
  exit 1
}

# The directory writes its sso_ldap_directory block, which nginx.conf includes, once it answers.
"$python" t/ldap/demo_directory.py --conf-out "$dir/ldap.conf" > "$dir/ldap.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 400); do [ -s "$dir/ldap.conf" ] && break; sleep 0.05; done
[ -s "$dir/ldap.conf" ] || { echo "the demo directory did not start; see $dir/ldap.out" >&2; exit 1; }

"$python" t/echo/echo_upstream.py --listen "127.0.0.1:$upstream_port" > "$dir/upstream.out" 2>&1 &
pids+=($!)
/usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" > "$dir/nginx.out" 2>&1 &
pids+=($!)
"$python" t/mockidp/mockidp.py serve --listen "127.0.0.1:$idp_port" \
  --entity-id "http://127.0.0.1:$idp_port/metadata" --base-url "http://127.0.0.1:$idp_port" \
  --key "$dir/idp.key" --cert "$dir/idp.crt" --users t/mockidp/users.json \
  --sp-metadata-url "http://127.0.0.1:$port/sso/metadata" > "$dir/idp.out" 2>&1 &
pids+=($!)
wait_port "$upstream_port"
wait_port "$port"
wait_port "$idp_port"

cat <<MSG

nginx-sso demo is running.

  Open   http://127.0.0.1:$port/   in a browser: you are sent to the mock IdP, pick a user,
  and land on the sample upstream, which shows the X-SSO-* headers nginx added.

  API clients:  curl -u alice:alice-pw http://127.0.0.1:$port/   (HTTP Basic against the directory)
  Sign in with the directory instead of SAML: in $dir/nginx.conf (conf/demo.conf) set
                "sso_login ldap;" and restart (docs/ldap.md); users alice/alice-pw, bob/bob-pw.
  SP metadata:  http://127.0.0.1:$port/sso/metadata
  Sign out:     http://127.0.0.1:$port/sso/logout
  Logs:         $dir/error.log

Press Ctrl-C to stop.
MSG
wait
