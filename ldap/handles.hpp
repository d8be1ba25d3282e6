// Owning wrappers for the libldap/liblber handles the LDAP core uses, so no function frees by
// hand. Internal to ldap/: the public headers do not include <ldap.h>.
#pragma once

#include <memory>

#include <lber.h>
#include <ldap.h>

// Drops one reference to a libldap TLS context (LDAP_OPT_X_TLS_CTX). Declared in OpenLDAP's
// private include/ldap_pvt.h, which libldap-dev does not ship, but exported by libldap-2.5.so.0
// (`nm -D`: ldap_pvt_tls_ctx_free@@OPENLDAP_2.5). The public API has no other way to give back
// the reference ldap_get_option(LDAP_OPT_X_TLS_CTX) hands out: ldap_set_option takes one more,
// and unbinding a handle only drops the handle's own. With GnuTLS it is tlsg_ctx_free: the
// count is decremented under the context's mutex, the credentials freed when it reaches zero.
extern "C" void ldap_pvt_tls_ctx_free(void* ctx);

namespace sso::ldap {

// Unbinding also closes the connection and frees the handle, whatever state it is in.
struct LdapUnbind {
    void operator()(LDAP* ld) const noexcept {
        if (ld) ldap_unbind_ext_s(ld, nullptr, nullptr);
    }
};
using LdapPtr = std::unique_ptr<LDAP, LdapUnbind>;

// A search result chain (entries, references and the final result).
struct LdapMsgFree {
    void operator()(LDAPMessage* m) const noexcept {
        if (m) ldap_msgfree(m);
    }
};
using LdapMessagePtr = std::unique_ptr<LDAPMessage, LdapMsgFree>;

// NULL-terminated arrays from ldap_get_values_len.
struct BerValuesFree {
    void operator()(berval** v) const noexcept {
        if (v) ldap_value_free_len(v);
    }
};
using BerValuesPtr = std::unique_ptr<berval*, BerValuesFree>;

// Strings libldap allocates for us: ldap_get_dn, ldap_first_attribute, option strings.
struct LdapMemFree {
    void operator()(char* p) const noexcept {
        if (p) ldap_memfree(p);
    }
};
using LdapCharPtr = std::unique_ptr<char, LdapMemFree>;

// A parsed DN (LDAPDN is LDAPRDN*, an array of RDNs).
struct LdapDnFree {
    void operator()(LDAPRDN* dn) const noexcept {
        if (dn) ldap_dnfree(dn);
    }
};
using LdapDnPtr = std::unique_ptr<LDAPRDN, LdapDnFree>;

// Our reference to a TLS context, from ldap_get_option(LDAP_OPT_X_TLS_CTX).
struct TlsContextRelease {
    void operator()(void* ctx) const noexcept {
        if (ctx) ldap_pvt_tls_ctx_free(ctx);
    }
};

struct LdapUrlFree {
    void operator()(LDAPURLDesc* u) const noexcept {
        if (u) ldap_free_urldesc(u);
    }
};
using LdapUrlPtr = std::unique_ptr<LDAPURLDesc, LdapUrlFree>;

}  // namespace sso::ldap
