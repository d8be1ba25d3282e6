#include "module/http_util.hpp"

#include <cstring>

#include "module/flows.hpp"
#include "module/request_ctx.hpp"
#include "module/sso_conf.hpp"
#include "session/cookie.hpp"
#include "session/return_target.hpp"

namespace sso::ngx {

namespace {

bool wants_json(ngx_http_request_t* r) noexcept {
    auto accept = request_header(r, "accept");
    return accept && accept->find("application/json") != std::string_view::npos &&
           accept->find("text/html") == std::string_view::npos;
}

}  // namespace

ngx_str_t pool_copy(ngx_pool_t* pool, std::string_view s) noexcept {
    ngx_str_t out{0, nullptr};
    auto* p = static_cast<u_char*>(ngx_pnalloc(pool, s.empty() ? 1 : s.size()));
    if (!p) return out;
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    out.len = s.size();
    out.data = p;
    return out;
}

std::optional<std::string_view> request_header(ngx_http_request_t* r, std::string_view name) noexcept {
    for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
        auto* h = static_cast<ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            if (h[i].key.len == name.size() &&
                ngx_strncasecmp(h[i].key.data, reinterpret_cast<u_char*>(const_cast<char*>(name.data())),
                                name.size()) == 0)
                return sv(h[i].value);
        }
    }
    return std::nullopt;
}

std::optional<std::string_view> request_cookie(ngx_http_request_t* r, std::string_view name) noexcept {
    // Ours were removed from the request (they do not go upstream): what the client sent. A
    // subrequest reads its main request's.
    if (const RequestCtx* main = existing_request_ctx(r->main); main && main->sent_cookies) {
        const auto* sent = static_cast<const ngx_str_t*>(main->sent_cookies->elts);
        for (ngx_uint_t i = 0; i < main->sent_cookies->nelts; ++i)
            if (auto v = find_cookie(sv(sent[i]), name)) return v;
        return std::nullopt;
    }
    auto** headers = static_cast<ngx_table_elt_t**>(r->headers_in.cookies.elts);
    for (ngx_uint_t i = 0; i < r->headers_in.cookies.nelts; ++i)
        if (auto v = find_cookie(sv(headers[i]->value), name)) return v;
    return std::nullopt;
}

bool add_response_header(ngx_http_request_t* r, std::string_view name, std::string_view value) noexcept {
    auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
    if (!h) return false;
    h->hash = 1;
    h->key = pool_copy(r->pool, name);
    h->value = pool_copy(r->pool, value);
    return h->key.data && h->value.data;
}

void log_reason(ngx_http_request_t* r, ngx_uint_t level, std::string_view reason) noexcept {
    char buf[512];
    std::size_t n = 0;
    for (const char c : reason) {
        if (n == sizeof buf - 4) {
            buf[n++] = '.';
            buf[n++] = '.';
            buf[n++] = '.';
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        buf[n++] = (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    ngx_str_t msg{n, reinterpret_cast<u_char*>(buf)};
    // The reference the page shows: a user who quotes it leads to this line.
    const std::string_view ref = request_reference(r);
    if (ref.empty()) {
        ngx_log_error(level, r->connection->log, 0, "sso: %V", &msg);
        return;
    }
    ngx_str_t id{ref.size(), reinterpret_cast<u_char*>(const_cast<char*>(ref.data()))};
    ngx_log_error(level, r->connection->log, 0, "sso: %V, ref %V", &msg, &id);
}

namespace {

// An answer given without reading the request body must not leave it on the connection, where
// nginx would parse it as the next request (smuggling, behind a proxy that reuses connections).
// What ngx_http_special_response_handler does for nginx's own answers: no "100 Continue" for
// a refusal, and the body drained (up to its declared length, within lingering_time) in the
// background. A body already read or being read is left alone (nginx's discard checks that).
void drop_unread_body(ngx_http_request_t* r, ngx_uint_t status) noexcept {
    if (r != r->main) return;  // a subrequest has no body of its own
    if (status >= NGX_HTTP_SPECIAL_RESPONSE) r->expect_tested = 1;
    // Body framing that cannot be followed (a malformed chunk) leaves nothing to reuse.
    if (ngx_http_discard_request_body(r) != NGX_OK) r->keepalive = 0;
    // Like nginx's own 413 (client_max_body_size): the body is still drained, so that the
    // answer is not lost to a reset, but a client that sends more than is accepted does not
    // keep the connection.
    if (status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE) r->keepalive = 0;
}

}  // namespace

ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, std::string_view content_type,
                    std::string_view body) noexcept {
    drop_unread_body(r, status);
    r->headers_out.status = status;
    r->headers_out.content_length_n = static_cast<off_t>(body.size());
    r->headers_out.content_type = pool_copy(r->pool, content_type);
    r->headers_out.content_type_len = content_type.size();
    r->headers_out.content_type_lowcase = nullptr;
    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);
    if (!add_response_header(r, "Cache-Control", "no-store")) return NGX_ERROR;
    ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
    if (body.empty()) return ngx_http_send_special(r, NGX_HTTP_LAST);
    auto* b = static_cast<ngx_buf_t*>(ngx_calloc_buf(r->pool));
    ngx_str_t copy = pool_copy(r->pool, body);
    if (!b || !copy.data) return NGX_ERROR;
    b->pos = copy.data;
    b->last = copy.data + copy.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    ngx_chain_t out{b, nullptr};
    return ngx_http_output_filter(r, &out);
}

namespace {

ngx_int_t request_id_index = NGX_ERROR;

// The name pages give the site (session/page.hpp): the server_name, else the Host.

// The page that was wanted: the return_to argument of an endpoint request, or the request
// itself elsewhere; "/" when it is not a same-origin target.
std::string page_return_to(ngx_http_request_t* r) {
    const LocConf* lcf = loc_conf(r);
    if (lcf && lcf->endpoint == 1) {
        bool refused = false;
        auto target = return_to_arg(r, refused);
        return target && !refused ? *target : std::string("/");
    }
    auto target = safe_return_target(sv(r->main->unparsed_uri), request_scheme(r), request_host(r));
    return target ? *target : std::string("/");
}

// An administrator's error_page for this status replaces the module's page: nginx sends it
// (ngx_http_special_response_handler), once, as for its own answers.
bool replaced_by_error_page(ngx_http_request_t* r, ngx_uint_t status) noexcept {
    if (status < NGX_HTTP_BAD_REQUEST || r->error_page || r->uri_changes == 0) return false;
    auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_get_module_loc_conf(r, ngx_http_core_module));
    if (!clcf || !clcf->error_pages) return false;
    const auto* pages = static_cast<const ngx_http_err_page_t*>(clcf->error_pages->elts);
    for (ngx_uint_t i = 0; i < clcf->error_pages->nelts; ++i)
        if (pages[i].status == static_cast<ngx_int_t>(status)) return true;
    return false;
}

}  // namespace

ngx_int_t init_request_reference(ngx_conf_t* cf) noexcept {
    ngx_str_t name = ngx_string("request_id");
    request_id_index = ngx_http_get_variable_index(cf, &name);
    return request_id_index == NGX_ERROR ? NGX_ERROR : NGX_OK;
}

std::string_view request_reference(ngx_http_request_t* r) noexcept {
    if (request_id_index == NGX_ERROR) return {};
    // The main request's: a subrequest (auth_request) refers to the request the user made.
    ngx_http_variable_value_t* v = ngx_http_get_indexed_variable(r->main, static_cast<ngx_uint_t>(request_id_index));
    if (!v || v->not_found || !v->len) return {};
    return {reinterpret_cast<const char*>(v->data), v->len};
}

std::string_view site_name(ngx_http_request_t* r) noexcept {
    auto* cscf = static_cast<ngx_http_core_srv_conf_t*>(ngx_http_get_module_srv_conf(r, ngx_http_core_module));
    return page_site(cscf ? sv(cscf->server_name) : std::string_view(), sv(r->headers_in.server));
}

std::string_view page_login_uri(ngx_http_request_t* r) noexcept {
    const SrvConf* scf = srv_conf(r);
    const LocConf* lcf = loc_conf(r);
    if (!scf || !lcf) return {};
    const LoginChoice choice = lcf->login == login_saml   ? LoginChoice::saml
                               : lcf->login == login_ldap ? LoginChoice::directory
                                                          : LoginChoice::automatic;
    switch (page_sign_in(choice, scf->rt && scf->rt->sp && scf->login_uri.len, lcf->ldap && scf->ldap_form_uri.len)) {
        case SignInLink::saml:
            return sv(scf->login_uri);
        case SignInLink::form:
            return sv(scf->ldap_form_uri);
        case SignInLink::none:
            break;
    }
    return {};
}

namespace {

// send_page and send_page_to: `return_to` and `login_uri` null mean "from the request".
ngx_int_t send_page_impl(ngx_http_request_t* r, ngx_uint_t status, std::string_view title, std::string_view message,
                         PageForward forward, const std::string_view* return_to,
                         const std::string_view* login_uri) noexcept {
    if (replaced_by_error_page(r, status)) return static_cast<ngx_int_t>(status);
    try {
        Page page;
        page.status = static_cast<unsigned>(status);
        page.title = title;
        page.message = message;
        page.reference = request_reference(r);
        if (wants_json(r)) return send_body(r, status, "application/json", page_json(page));
        page.site = site_name(r);
        page.forward = forward;
        const std::string back = forward == PageForward::none ? std::string()
                                 : return_to                  ? std::string(*return_to)
                                                              : page_return_to(r);
        page.return_to = back;
        const SrvConf* scf = srv_conf(r);
        const RequestCtx* ctx = existing_request_ctx(r);
        page.login_uri = login_uri ? *login_uri : page_login_uri(r);
        if (scf) page.logout_uri = sv(scf->logout_uri);
        if (ctx) {
            page.user = sv(ctx->identity.user);
            page.continue_to = sv(ctx->page_continue);
        }
        return send_body(r, status, "text/html; charset=utf-8", page_html(page));
    } catch (...) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}

}  // namespace

ngx_int_t send_page(ngx_http_request_t* r, ngx_uint_t status, std::string_view title, std::string_view message,
                    PageForward forward) noexcept {
    return send_page_impl(r, status, title, message, forward, nullptr, nullptr);
}

ngx_int_t send_page_to(ngx_http_request_t* r, ngx_uint_t status, std::string_view title, std::string_view message,
                       PageForward forward, std::string_view return_to, std::string_view login_uri) noexcept {
    return send_page_impl(r, status, title, message, forward, &return_to, &login_uri);
}

ngx_int_t not_allowed(ngx_http_request_t* r, std::string_view allow) noexcept {
    if (!add_response_header(r, "Allow", allow)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return NGX_HTTP_NOT_ALLOWED;
}

ngx_int_t send_redirect(ngx_http_request_t* r, ngx_uint_t status, std::string_view location) noexcept {
    if (!add_response_header(r, "Location", location)) return NGX_ERROR;
    return send_body(r, status, "text/plain", "");
}

ngx_int_t remove_request_headers(ngx_http_request_t* r, bool (*match)(std::string_view name) noexcept) noexcept {
    using Match = bool (*)(std::string_view) noexcept;
    return remove_request_headers(
        r, [](std::string_view name, const void* m) noexcept { return (*static_cast<const Match*>(m))(name); }, &match);
}

ngx_int_t remove_request_headers(ngx_http_request_t* r, bool (*match)(std::string_view name, const void* data) noexcept,
                                 const void* data) noexcept {
    bool found = false;
    for (ngx_list_part_t* part = &r->headers_in.headers.part; part && !found; part = part->next) {
        auto* h = static_cast<ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts && !found; ++i) found = match(sv(h[i].key), data);
    }
    if (!found) return NGX_OK;
    // ngx_list_t cannot delete: copy the list without the matching headers.
    ngx_list_t clean;
    if (ngx_list_init(&clean, r->pool, 20, sizeof(ngx_table_elt_t)) != NGX_OK) return NGX_ERROR;
    for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
        auto* h = static_cast<ngx_table_elt_t*>(part->elts);
        for (ngx_uint_t i = 0; i < part->nelts; ++i) {
            if (match(sv(h[i].key), data)) continue;
            auto* copy = static_cast<ngx_table_elt_t*>(ngx_list_push(&clean));
            if (!copy) return NGX_ERROR;
            *copy = h[i];
        }
    }
    // ngx_list_t.last points into the list itself when it has one part: re-aim it after the copy.
    const bool single_part = clean.last == &clean.part;
    r->headers_in.headers = clean;
    if (single_part) r->headers_in.headers.last = &r->headers_in.headers.part;
    return NGX_OK;
}

std::string_view request_scheme(ngx_http_request_t* r) noexcept {
#if (NGX_HTTP_SSL)
    if (r->connection->ssl) return "https";
#endif
    return "http";
}

std::string_view request_host(ngx_http_request_t* r) noexcept {
    return r->headers_in.host ? sv(r->headers_in.host->value) : std::string_view();
}

// The body is in memory or, when large, in a temporary file.
std::optional<std::string> request_body(ngx_http_request_t* r) {
    if (!r->request_body || !r->request_body->bufs) return std::nullopt;
    std::string body;
    for (ngx_chain_t* cl = r->request_body->bufs; cl; cl = cl->next) {
        ngx_buf_t* b = cl->buf;
        if (b->in_file) {
            const std::size_t len = static_cast<std::size_t>(b->file_last - b->file_pos);
            const std::size_t at = body.size();
            body.resize(at + len);
            const ssize_t n = ngx_read_file(b->file, reinterpret_cast<u_char*>(body.data() + at), len, b->file_pos);
            if (n != static_cast<ssize_t>(len)) return std::nullopt;
        } else {
            body.append(reinterpret_cast<const char*>(b->pos), static_cast<std::size_t>(b->last - b->pos));
        }
    }
    return body;
}

}  // namespace sso::ngx
