#include "session/page.hpp"

#include <cstdio>

#include "session/form.hpp"

namespace sso {

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string json_escape(std::string_view s) {
    std::string out;
    for (const unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string sign_in_url(std::string_view login_uri, std::string_view return_to) {
    return std::string(login_uri) + "?return_to=" + url_encode(return_to.empty() ? "/" : return_to);
}

namespace {

std::string link(std::string_view href, std::string_view label) {
    return "<a href=\"" + html_escape(href) + "\">" + html_escape(label) + "</a>";
}

std::string way_forward(const Page& p) {
    const std::string_view back = p.return_to.empty() ? std::string_view("/") : p.return_to;
    std::string out;
    switch (p.forward) {
        case PageForward::none:
            return out;
        case PageForward::retry:
            out = "<p class=\"forward\">" + link(back, "Try again") + "</p>\n";
            break;
        case PageForward::sign_in:
            out = "<p class=\"forward\">";
            if (!p.login_uri.empty()) out += link(sign_in_url(p.login_uri, back), "Sign in again") + " &middot; ";
            out += link("/", "Go to the home page") + "</p>\n";
            break;
        case PageForward::switch_account:
            if (!p.user.empty()) out = "<p class=\"user\">Signed in as <b>" + html_escape(p.user) + "</b>.</p>\n";
            if (!p.logout_uri.empty() && !p.login_uri.empty())
                // POST: a cross-site link or image cannot sign the user out. The logout reads
                // return_to from the query, as its other callers give it.
                out += "<form class=\"forward\" method=\"post\" action=\"" +
                       html_escape(std::string(p.logout_uri) +
                                   "?return_to=" + url_encode(sign_in_url(p.login_uri, back))) +
                       "\"><button type=\"submit\">Sign out and sign in as someone else</button></form>\n";
            out += "<p class=\"forward\">" + link("/", "Go to the home page") + "</p>\n";
            break;
    }
    return out;
}

}  // namespace

SignInLink page_sign_in(LoginChoice choice, bool saml_ready, bool directory) noexcept {
    if (choice != LoginChoice::directory && saml_ready) return SignInLink::saml;
    return directory ? SignInLink::form : SignInLink::none;
}

std::string_view page_site(std::string_view server_name, std::string_view host) noexcept {
    if (server_name.empty() || server_name == "_" || server_name.find_first_of("*~") != std::string_view::npos)
        return host;
    return server_name;
}

namespace {

// Everything up to and including the title; `style` adds rules.
std::string page_head(const Page& p, std::string_view style) {
    const std::string title = html_escape(p.title);
    const std::string site = html_escape(p.site);
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title +
                      (site.empty() ? "" : " - " + site) +
                      "</title><style>body{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}"
                      "h1{font-size:1.4em}.site,.ref{color:#666;font-size:.9em}" +
                      std::string(style) + "</style></head><body>\n";
    if (!site.empty()) out += "<p class=\"site\">" + site + "</p>\n";
    return out + "<h1>" + title + "</h1>\n";
}

std::string reference_line(const Page& p) {
    if (p.reference.empty()) return {};
    return "<p class=\"ref\">Reference: <code>" + html_escape(p.reference) +
           "</code> (quote it when you contact the help desk)</p>\n";
}

}  // namespace

std::string idp_chooser_html(const Page& p, const std::vector<ChooserEntry>& idps) {
    const std::string_view back = p.return_to.empty() ? std::string_view("/") : p.return_to;
    std::string out = page_head(p, "li{margin:.6em 0}") + "<ul>";
    for (const ChooserEntry& idp : idps) out += "<li>" + link(idp.href, idp.name) + "</li>";
    out += "</ul>\n<p class=\"hint\">";
    if (!p.login_uri.empty())
        out += "Your organisation is not listed? " +
               link(sign_in_url(p.login_uri, back), "Sign in with a user name and password") +
               ", or contact the help desk of this site.";
    else
        out += "Your organisation is not listed? Contact the help desk of this site.";
    out += "</p>\n<p class=\"forward\">" + link(back, "Cancel and go back") + " &middot; " +
           link("/", "Go to the home page") + "</p>\n";
    return out + reference_line(p) + "</body></html>\n";
}

std::string page_html(const Page& p) {
    std::string out = page_head(p, "") + "<p>" + html_escape(p.message) + "</p>\n";
    if (!p.continue_to.empty()) out += "<p class=\"continue\">" + link(p.continue_to, "Continue") + "</p>\n";
    out += way_forward(p);
    return out + reference_line(p) + "</body></html>\n";
}

std::string page_json(const Page& p) {
    std::string out = "{\"status\":" + std::to_string(p.status) + ",\"error\":\"" + json_escape(p.title) +
                      "\",\"message\":\"" + json_escape(p.message) + "\"";
    if (!p.reference.empty()) out += ",\"reference\":\"" + json_escape(p.reference) + "\"";
    return out + "}\n";
}

std::string metadata_filename(std::string_view host) {
    std::string name;
    for (const char c : host.substr(0, 200)) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
            c == '_')
            name += c;
        else if (c == ':')
            name += '_';
    }
    while (!name.empty() && name.front() == '.') name.erase(0, 1);
    return name.empty() ? "sp-metadata.xml" : name + "-sp-metadata.xml";
}

}  // namespace sso
