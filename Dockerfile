# nginx-sso as a container: Debian's nginx with the libnginx-mod-http-sso package, run as an
# unprivileged user. Build: docker build -t nginx-sso:0.9.0 .   (docs/install.md)
#
#   /etc/nginx-sso/          configuration (nginx-sso.conf: the server blocks), keys, IdP
#                            metadata: mount it read-only
#   /var/lib/nginx-sso/      what the module writes (metadata cache, replay state): a volume
# Logs go to stdout (access) and stderr (errors). The HEALTHCHECK asks /healthz on 8081.
# The `demo` stage is docker-compose.yml's image; the last stage, the default, is the product.

# The package is built on the same Debian release it runs on, with the same package list and
# build script as a source checkout (scripts/deps.sh, scripts/build-deb.sh).
FROM debian:12.8 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/deps.sh
RUN bash scripts/deps.sh package && rm -rf /var/lib/apt/lists/*
COPY . .
RUN OUT_DIR=/dist bash scripts/build-deb.sh

# Debian's nginx and our package, and the unprivileged user both images run as.
FROM debian:12.8-slim AS base
COPY --from=build /dist/ /tmp/dist/
# curl for the health checks; the module's own libraries come as the package's dependencies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx curl ca-certificates \
      /tmp/dist/libnginx-mod-http-sso_*_amd64.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/dist \
 && useradd --system --uid 10001 --home-dir /var/lib/nginx-sso --shell /usr/sbin/nologin nginx-sso \
 && mkdir -p /etc/nginx-sso /var/lib/nginx-sso /run/nginx-sso /var/cache/nginx-sso \
 && chown nginx-sso: /var/lib/nginx-sso /run/nginx-sso /var/cache/nginx-sso \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log

# The demo's parts (docker-compose.yml): what scripts/demo.sh runs beside nginx (the mock IdP,
# slapd, the sample upstream, redis), from the same scripts. Each compose service has its own
# health check.
FROM base AS demo
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-lasso slapd ldap-utils openssl redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /demo && chown nginx-sso: /demo
WORKDIR /opt/nginx-sso
COPY scripts/demo.sh scripts/demo.sh
COPY conf/demo.conf conf/demo.conf
COPY t/__init__.py t/__init__.py
COPY t/mockidp t/mockidp
COPY t/ldap t/ldap
COPY t/echo t/echo
COPY t/integration/__init__.py t/integration/harness.py t/integration/ldap_server.py t/integration/
USER nginx-sso
CMD ["bash", "scripts/demo.sh", "run", "nginx"]

# The product.
FROM base AS runtime
COPY container/nginx.conf /etc/nginx/nginx.conf
COPY container/nginx-sso.conf /etc/nginx-sso/nginx-sso.conf
USER nginx-sso
VOLUME ["/var/lib/nginx-sso"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8081/healthz || exit 1
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
