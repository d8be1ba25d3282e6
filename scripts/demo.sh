#!/usr/bin/env bash
# Installs what is needed, builds the module, and starts the demo: nginx with our module, the
# mock IdP, a directory (slapd) and a sample upstream that shows the identity headers it
# receives. Ctrl-C stops it.
#   DEMO_HOST           the address nginx and the mock IdP listen on and the URLs name
#                       (127.0.0.1); set it to this server's IP or name to try it from elsewhere
#   DEMO_PORT           nginx (8080); DEMO_IDP_PORT the mock IdP (8081); DEMO_UPSTREAM_PORT the
#                       sample upstream (8082, loopback); the directory takes free ports
#   DEMO_DIR            where everything runs (/tmp/nginx-sso-demo, emptied first)
#   DEMO_MODULE         an already built module: skips installing packages and building
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

host=${DEMO_HOST:-127.0.0.1}
port=${DEMO_PORT:-8080}
idp_port=${DEMO_IDP_PORT:-8081}
upstream_port=${DEMO_UPSTREAM_PORT:-8082}
dir=${DEMO_DIR:-/tmp/nginx-sso-demo}
python=/usr/bin/python3
case "$host" in
  0.0.0.0 | '::' | '[::]')
    echo "DEMO_HOST is the address browsers use, which $host is not: give this server's IP or name" >&2
    exit 2 ;;
esac

step() { printf '\n==> %s\n' "$*"; }

if [ -n "${DEMO_MODULE:-}" ]; then
  module=$DEMO_MODULE
else
  step "Installing the Debian packages the demo needs (scripts/deps.sh)"
  bash scripts/deps.sh
  step "Building the module (build/ngx_http_sso_module.so)"
  BUILD_DIR=build SSO_BUILD_TARGET=ngx_http_sso_module bash scripts/build.sh
  module=$repo/build/ngx_http_sso_module.so
fi

step "Making keys and the mock IdP's metadata in $dir"
rm -rf "$dir"
mkdir -p "$dir"/{body,proxy,fastcgi,uwsgi,scgi}
bash t/mockidp/make_keys.sh "$dir"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/jwt.key" 2> /dev/null
openssl pkey -in "$dir/jwt.key" -pubout -out "$dir/jwt.pub"
idp_url="http://$host:$idp_port"
"$python" t/mockidp/mockidp.py metadata --entity-id "$idp_url/metadata" --base-url "$idp_url" \
  --cert "$dir/idp.crt" --slo redirect > "$dir/idp-metadata.xml"
sed -e "s|@MODULE@|$module|" -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" \
  -e "s|@PORT@|$port|g" -e "s|@UPSTREAM_PORT@|$upstream_port|g" conf/demo.conf > "$dir/nginx.conf"

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

wait_port() {  # polls until something accepts connections on $1:$2
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1:$2; see $dir/*.out" >&2
  exit 1
}

step "Starting the directory (slapd), the sample upstream, nginx and the mock IdP"
# The directory writes its sso_ldap_directory block, which nginx.conf includes, once it answers.
"$python" t/ldap/demo_directory.py --conf-out "$dir/ldap.conf" > "$dir/ldap.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 400); do [ -s "$dir/ldap.conf" ] && break; sleep 0.05; done
[ -s "$dir/ldap.conf" ] || { echo "the demo directory did not start; see $dir/ldap.out" >&2; exit 1; }

"$python" t/echo/echo_upstream.py --listen "127.0.0.1:$upstream_port" > "$dir/upstream.out" 2>&1 &
pids+=($!)
/usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" > "$dir/nginx.out" 2>&1 &
pids+=($!)
"$python" t/mockidp/mockidp.py serve --listen "$host:$idp_port" \
  --entity-id "$idp_url/metadata" --base-url "$idp_url" --slo redirect \
  --key "$dir/idp.key" --cert "$dir/idp.crt" --users t/mockidp/users.json \
  --sp-metadata-url "http://$host:$port/sso/metadata" > "$dir/idp.out" 2>&1 &
pids+=($!)
wait_port 127.0.0.1 "$upstream_port"
wait_port "$host" "$port"
wait_port "$host" "$idp_port"

site="http://$host:$port"
where="on $host"
case "$host" in
  127.* | localhost | '::1') ;;
  *) where="on $host, reachable from other machines: plain HTTP, demo keys, demo passwords" ;;
esac
cat <<MSG

nginx-sso demo is running $where.

  Sign in with SAML    $site/
                       The mock IdP lets you pick a user (alice, bob, zoe) without a password,
                       and you land on the sample upstream, which shows the X-SSO-* headers
                       and the signed X-SSO-JWT token nginx added.
  Sign in with the     $site/directory/
    directory form     alice / alice-pw, bob / bob-pw (a real slapd); one session serves both.
  Only some users      $site/operators/   (sso_require group: alice passes, bob is refused)
  Console              $site/sso-admin/status   (signed in as alice: the Issuer and Return URL
                       to copy into an IdP, the IdP metadata, sources, counters, zones)
  Metrics              curl -u alice:alice-pw $site/sso-admin/metrics
  API clients          curl -u bob:bob-pw $site/   (HTTP Basic against the directory)
  SP metadata          $site/sso/metadata   (Issuer $site/sso/metadata,
                       Return URL $site/sso/acs)
  Sign out             $site/sso/logout   (Single Logout through the mock IdP)
  JWT public key       $dir/jwt.pub   (verifies X-SSO-JWT; see docs/security.md)
  Configuration        $dir/nginx.conf (made from conf/demo.conf)
  Logs                 $dir/error.log

Press Ctrl-C to stop.
MSG
wait
