#!/usr/bin/env bash
# The nginx way of building a module: ./configure --add-dynamic-module=… && make modules,
# on Debian's nginx-dev tree with the installed binary's flags; then the stock nginx must
# load the result (nginx -t), which proves binary compatibility.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r /usr/share/nginx/src "$work/nginx"
cd "$work/nginx"
source ./conf_flags
./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$repo" > "$work/configure.log" 2>&1 \
  || { tail -20 "$work/configure.log"; exit 1; }
make -f objs/Makefile -j "$(nproc)" modules > "$work/make.log" 2>&1 || { tail -40 "$work/make.log"; exit 1; }
cat > "$work/nginx.conf" <<CONF
load_module $work/nginx/objs/ngx_http_sso_module.so;
pid $work/nginx.pid;
error_log $work/error.log;
events {}
http { server { listen 127.0.0.1:1; location / { sso on; } } }
CONF
/usr/sbin/nginx -t -p "$work" -c "$work/nginx.conf" -e "$work/error.log"
echo "built with nginx's configure and loaded by /usr/sbin/nginx"
