#!/usr/bin/env bash
# Installs what is needed, builds the module, and starts the demo: nginx with our module, the
# mock IdP, a directory (slapd) and a sample upstream that shows the identity headers it
# receives. Ctrl-C stops it.
#   bash scripts/demo.sh              all of it, in this shell
#   bash scripts/demo.sh setup        only the files (keys, metadata, nginx.conf) in DEMO_DIR
#   bash scripts/demo.sh run PART     one part in the foreground, on files `setup` made:
#                                     directory, upstream, idp, redis, nginx, nginx-2
#                                     (what docker-compose.yml runs, one part a service)
# Settings:
#   DEMO_HOST           the address the URLs name and nginx and the mock IdP listen on
#                       (127.0.0.1); set it to this server's IP or name to try it from elsewhere
#   DEMO_LISTEN         the address to listen on when it differs from DEMO_HOST (containers)
#   DEMO_PORT           nginx (8080); DEMO_IDP_PORT the mock IdP (8081); DEMO_UPSTREAM_PORT the
#                       sample upstream (8082, loopback); the directory takes free ports
#   DEMO_REDIS          host:port of a Redis for the sessions (default: shared memory);
#                       DEMO_PORT_2 the second node's port (8090), which shares them
#   DEMO_DIR            where everything runs (/tmp/nginx-sso-demo, emptied by setup)
#   DEMO_MODULE         an already built module: skips installing packages and building
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

host=${DEMO_HOST:-127.0.0.1}
listen=${DEMO_LISTEN:-$host}
port=${DEMO_PORT:-8080}
port_2=${DEMO_PORT_2:-8090}
idp_port=${DEMO_IDP_PORT:-8081}
upstream_port=${DEMO_UPSTREAM_PORT:-8082}
redis=${DEMO_REDIS:-}
dir=${DEMO_DIR:-/tmp/nginx-sso-demo}
python=/usr/bin/python3
idp_url="http://$host:$idp_port"
reach=$listen  # where the parts reach nginx
[ "$listen" != 0.0.0.0 ] || reach=127.0.0.1
case "$host" in
  0.0.0.0 | '::' | '[::]')
    echo "DEMO_HOST is the address browsers use, which $host is not: give this server's IP or name" >&2
    exit 2 ;;
esac

step() { printf '\n==> %s\n' "$*"; }

prepare() {  # the packages and the module, unless a module is given
  if [ -n "${DEMO_MODULE:-}" ]; then
    module=$DEMO_MODULE
    return
  fi
  step "Installing the Debian packages the demo needs (scripts/deps.sh)"
  bash scripts/deps.sh
  step "Building the module (build/ngx_http_sso_module.so)"
  BUILD_DIR=build SSO_BUILD_TARGET=ngx_http_sso_module bash scripts/build.sh
  module=$repo/build/ngx_http_sso_module.so
}

node_conf() {  # node_conf RUN_DIR LISTEN_PORT: conf/demo.conf filled in for one nginx node
  mkdir -p "$1"/{body,proxy,fastcgi,uwsgi,scgi}
  sed -e "s|@MODULE@|$module|" -e "s|@DIR@|$dir|g" -e "s|@RUN@|$1|g" -e "s|@HOST@|$host|g" \
    -e "s|@LISTEN@|$listen:$2|g" -e "s|@PORT@|$port|g" -e "s|@UPSTREAM_PORT@|$upstream_port|g" \
    conf/demo.conf > "$1/nginx.conf"
}

setup() {
  step "Making keys, the mock IdP's metadata and nginx.conf in $dir"
  mkdir -p "$dir"
  find "$dir" -mindepth 1 -delete
  bash t/mockidp/make_keys.sh "$dir"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/jwt.key" 2> /dev/null
  openssl pkey -in "$dir/jwt.key" -pubout -out "$dir/jwt.pub"
  "$python" t/mockidp/mockidp.py metadata --entity-id "$idp_url/metadata" --base-url "$idp_url" \
    --cert "$dir/idp.crt" --slo redirect > "$dir/idp-metadata.xml"
  if [ -n "$redis" ]; then echo "sso_redis $redis;" > "$dir/store.conf"; else : > "$dir/store.conf"; fi
  node_conf "$dir" "$port"
  [ -z "$redis" ] || node_conf "$dir/node-2" "$port_2"
  # Every part may run as another user (containers): the workers read keys and the CA file.
  chmod -R a+rX "$dir"
}

wait_file() {  # polls until $1 is not empty
  for _ in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "$1 did not appear; see $dir/*.out" >&2
  exit 1
}

# One part in the foreground (exec: its PID is the caller's, and signals reach it).
run() {
  case "$1" in
    directory)  # writes its sso_ldap_directory block, which nginx.conf includes, once it answers
      TMPDIR=$dir exec "$python" t/ldap/demo_directory.py --conf-out "$dir/ldap.conf" ;;
    upstream)
      exec "$python" t/echo/echo_upstream.py --listen "127.0.0.1:$upstream_port" ;;
    idp)
      exec "$python" t/mockidp/mockidp.py serve --listen "$listen:$idp_port" \
        --entity-id "$idp_url/metadata" --base-url "$idp_url" --slo redirect \
        --key "$dir/idp.key" --cert "$dir/idp.crt" --users t/mockidp/users.json \
        --sp-metadata-url "http://$reach:$port/sso/metadata" ;;
    redis)
      exec redis-server --bind 127.0.0.1 --port "${redis##*:}" --save '' --appendonly no ;;
    nginx | nginx-2)
      local run_dir=$dir
      [ "$1" = nginx ] || run_dir=$dir/node-2
      wait_file "$dir/ldap.conf"
      exec /usr/sbin/nginx -p "$run_dir" -c "$run_dir/nginx.conf" -e "$run_dir/error.log" ;;
    *)
      echo "demo.sh run: no part \"$1\" (directory, upstream, idp, redis, nginx, nginx-2)" >&2
      exit 2 ;;
  esac
}

case "${1:-all}" in
  setup) prepare; setup; exit 0 ;;
  run) module=${DEMO_MODULE:-$repo/build/ngx_http_sso_module.so}; run "${2:?which part}" ;;
  all) ;;
  *) echo "usage: demo.sh [setup | run PART]" >&2; exit 2 ;;
esac

prepare
setup

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
parts=(directory upstream nginx idp)
[ -z "$redis" ] || parts=(redis "${parts[@]}" nginx-2)
for part in "${parts[@]}"; do
  bash "$repo/scripts/demo.sh" run "$part" > "$dir/$part.out" 2>&1 &
  pids+=($!)
done
wait_port 127.0.0.1 "$upstream_port"
wait_port "$reach" "$port"
wait_port "$reach" "$idp_port"

site="http://$host:$port"
where="on $host"
case "$host" in
  127.* | localhost | '::1') ;;
  *) where="on $host, reachable from other machines. It is not protected: plain HTTP, demo keys
and passwords, and the mock IdP signs anyone in as any user" ;;
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
MSG
[ -z "$redis" ] || echo "  Second node          http://$host:$port_2/   (sessions shared through Redis at $redis)"
printf '\nPress Ctrl-C to stop.\n'
wait
