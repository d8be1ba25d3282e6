// Owning wrappers for the C handles the SAML core uses, so no function frees by hand.
#pragma once

#include <memory>

#include "saml/lasso_includes.hpp"

namespace sso {

struct GObjectUnref {
    void operator()(void* p) const noexcept {
        if (p) g_object_unref(p);
    }
};
template <class T>
using GObjectPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
    void operator()(void* p) const noexcept { g_free(p); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

struct XmlDocFree {
    void operator()(xmlDoc* d) const noexcept {
        if (d) xmlFreeDoc(d);
    }
};
using XmlDocPtr = std::unique_ptr<xmlDoc, XmlDocFree>;

struct XmlFree {
    void operator()(void* p) const noexcept {
        if (p) xmlFree(p);
    }
};
using XmlCharPtr = std::unique_ptr<xmlChar, XmlFree>;

}  // namespace sso
