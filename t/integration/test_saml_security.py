"""The ACS against hostile SAML: missing or foreign signatures, signature wrapping, XML tricks,
malformed transport, failed conditions, replays and forged context.

Every attack starts from a real Response the mock IdP signed for a fresh AuthnRequest, edited
with xml.dom.minidom (which keeps namespace prefixes), so the only thing wrong with it is the
edit under test. Each refusal asserts the one reason the module logs, so a test cannot pass
because the response was refused for some other reason.
"""
import base64
import itertools
import os
import re
import subprocess
import unittest
import urllib.parse
import zlib
from xml.dom import minidom

from t.integration.harness import (BROWSER, MOCK_IDP, PYTHON, StackTest, decode_response, encode_response, request, session_cookie,
                                  upstream_headers)

NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
EVIL = "admin@example.org"
MAX_RESPONSE = 256 * 1024  # sso_max_response_size's default
JSON = {"Accept": "application/json"}

_ids = itertools.count(1)


def new_id():
    return "_attacker%06d" % next(_ids)


# --- minidom helpers -------------------------------------------------------------------------

def parse(answer):
    return minidom.parseString(decode_response(answer["SAMLResponse"]))


def xml_of(doc):
    return doc.documentElement.toxml()


def children(node, ns, local):
    return [c for c in node.childNodes
            if c.nodeType == c.ELEMENT_NODE and c.namespaceURI == ns and c.localName == local]


def child(node, ns, local):
    found = children(node, ns, local)
    assert len(found) == 1, (ns, local, len(found))
    return found[0]


def descendant(node, ns, local):
    found = node.getElementsByTagNameNS(ns, local)
    assert len(found) >= 1, (ns, local)
    return found[0]


def assertion_of(doc):
    return child(doc.documentElement, NS_SAML, "Assertion")


def signature_of(element):
    return child(element, NS_DS, "Signature")


def unsign(element):
    for sig in children(element, NS_DS, "Signature"):
        element.removeChild(sig)
    return element


def set_text(element, text):
    while element.firstChild:
        element.removeChild(element.firstChild)
    element.appendChild(element.ownerDocument.createTextNode(text))


def make_evil(assertion):
    """An unsigned copy of the assertion with a fresh ID that names EVIL."""
    evil = unsign(assertion.cloneNode(True))
    evil.setAttribute("ID", new_id())
    set_text(descendant(evil, NS_SAML, "NameID"), EVIL)
    for value in evil.getElementsByTagNameNS(NS_SAML, "AttributeValue"):
        if value.firstChild and "@" in value.firstChild.data:
            set_text(value, EVIL)
    return evil


def after_issuer(parent):
    return child(parent, NS_SAML, "Issuer").nextSibling


class SecurityTest(StackTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # As root, nginx's workers run as "nobody": let them write bodies over
        # client_body_buffer_size to the body temp dir inside the stack's 0700 directory.
        if os.geteuid() == 0:
            os.chmod(cls.stack.dir, 0o711)
            os.chmod(cls.stack.path("body"), 0o777)

    def answer(self, user="alice", **knobs):
        s = self.stack
        return s.idp_response(s.start_login("/app/"), user, **knobs)

    def post(self, xml, relay_state):
        """POSTs the document; returns (response, mark taken just before)."""
        mark = self.stack.mark()
        r = self.stack.post_acs(encode_response(xml), relay_state)
        return r, mark

    def refuse_xml(self, xml, relay_state, reason, code=403):
        r, mark = self.post(xml, relay_state)
        self.assertRefused(r, code, reason, mark)
        self.assertNotIn('signed in "%s"' % EVIL, self.stack.error_log()[mark[0]:])

    def refuse_knobs(self, reason, code=403, **knobs):
        a = self.answer(**knobs)
        mark = self.stack.mark()
        r = self.stack.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertRefused(r, code, reason, mark)

    def refuse_edit(self, edit, reason, code=403, **knobs):
        """A real signed Response for a fresh AuthnRequest, edited in place by edit(doc)."""
        a = self.answer(**knobs)
        doc = parse(a)
        edit(doc)
        self.refuse_xml(xml_of(doc), a["RelayState"], reason, code)

    def accept(self, saml_response, relay_state, user="alice@example.org"):
        s = self.stack
        mark = s.mark()
        r = s.post_acs(saml_response, relay_state)
        self.assertEqual(r.status, 303, (r.text()[:300], s.sso_lines_since(mark)))
        cookie = session_cookie(r)
        self.assertIsNotNone(cookie)
        page = s.get("/app/", JSON, cookie=cookie)
        self.assertEqual(page.status, 200)
        self.assertEqual(upstream_headers(page)["x-sso-user"], [user])
        return cookie

    def accept_knobs(self, **knobs):
        a = self.answer(**knobs)
        return self.accept(a["SAMLResponse"], a["RelayState"])


UNSIGNED = r"SAML response refused: neither the Response nor the Assertion is signed, client: "
RESPONSE_DIGEST = (r"SAML response refused: digest of the signed Response does not match: the content was changed "
                   r"after signing, client: ")
ASSERTION_DIGEST = (r"SAML response refused: digest of the signed Assertion does not match: the content was changed "
                    r"after signing, client: ")
BAD_SIGNATURE = r"SAML response refused: signature does not verify with the IdP metadata certificate, client: "
UTF16 = r"SAML response refused: response is UTF-16 or UTF-32 encoded; only UTF-8 is accepted, client: "
TWO_ASSERTIONS = r"SAML response refused: response must contain exactly one assertion, found 2, client: "
RESPONSE_REF_NOT_PARENT = (r"SAML response refused: Response signature Reference does not point at its parent "
                           r"element, client: ")


class SignatureTest(SecurityTest):

    def test_minidom_round_trip_of_a_signed_response_is_accepted(self):
        # The control for every edit below: re-serialising alone changes nothing.
        for sign in ("both", "assertion", "response"):
            with self.subTest(sign=sign):
                a = self.answer(sign=sign)
                self.accept(encode_response(xml_of(parse(a))), a["RelayState"])

    def test_unsigned_response_and_assertion(self):
        self.refuse_knobs(UNSIGNED, sign="none")

    def test_signature_stripped_from_the_response(self):
        self.refuse_edit(lambda d: unsign(d.documentElement), UNSIGNED, sign="response")

    def test_signature_stripped_from_the_assertion(self):
        self.refuse_edit(lambda d: unsign(assertion_of(d)), UNSIGNED, sign="assertion")

    def test_signatures_stripped_from_both(self):
        def edit(d):
            unsign(d.documentElement)
            unsign(assertion_of(d))
        self.refuse_edit(edit, UNSIGNED, sign="both")

    def test_assertion_signature_removed_from_a_doubly_signed_response(self):
        # The Response signature covered the assertion's signature: its digest no longer matches.
        self.refuse_edit(lambda d: unsign(assertion_of(d)), RESPONSE_DIGEST, sign="both")

    def test_response_signature_removed_from_a_doubly_signed_response_is_accepted(self):
        # The assertion is still validly signed by the IdP: refusing would be over-strict.
        a = self.answer(sign="both")
        doc = parse(a)
        unsign(doc.documentElement)
        self.assertEqual(len(children(assertion_of(doc), NS_DS, "Signature")), 1)
        self.accept(encode_response(xml_of(doc)), a["RelayState"])

    def test_corrupted_response_signature_over_a_validly_signed_assertion(self):
        # A signature that is present must verify, even when the assertion's own would do.
        def corrupt(d):
            value = descendant(signature_of(d.documentElement), NS_DS, "SignatureValue")
            text = value.firstChild.data.strip()
            set_text(value, ("A" if text[0] != "A" else "B") + text[1:])
        self.refuse_edit(corrupt, BAD_SIGNATURE, sign="both")

    def test_response_envelope_edited_under_a_validly_signed_assertion(self):
        # The Response signature covers the envelope (Destination, InResponseTo, Status...).
        def edit(d):
            d.documentElement.setAttribute("IssueInstant", "2001-01-01T00:00:00Z")
        self.refuse_edit(edit, RESPONSE_DIGEST, sign="both")

    def test_content_changed_after_signing_is_a_digest_mismatch(self):
        # What an IdP library does when it encrypts or rewrites the assertion after signing:
        # new metadata cannot help, and the reason must not suggest it.
        def edit(d):
            set_text(descendant(assertion_of(d), NS_SAML, "NameID"), "alice@example.org ")
        self.refuse_edit(edit, ASSERTION_DIGEST, sign="assertion")
        self.refuse_edit(edit, RESPONSE_DIGEST, sign="both")
        self.refuse_edit(edit, RESPONSE_DIGEST, sign="response")

    def test_assertion_signed_by_a_key_not_in_the_metadata(self):
        # The rogue certificate travels in KeyInfo: it must never be trusted by itself.
        self.refuse_knobs(BAD_SIGNATURE, sign="assertion", key="rogue")

    def test_response_signed_by_a_key_not_in_the_metadata(self):
        self.refuse_knobs(BAD_SIGNATURE, sign="response", key="rogue")

    def test_both_signed_by_a_key_not_in_the_metadata(self):
        self.refuse_knobs(BAD_SIGNATURE, sign="both", key="rogue")

    def test_sha1_signature_is_refused_by_default(self):
        sha1 = r"signature method not allowed: http://www\.w3\.org/2000/09/xmldsig#rsa-sha1, client: "
        for sign, what in (("both", "Response"), ("response", "Response"), ("assertion", "Assertion")):
            with self.subTest(sign=sign):
                self.refuse_knobs(r"SAML response refused: %s %s" % (what, sha1), sign=sign, sig_alg="sha1")

    def test_reference_uri_not_naming_the_signed_element(self):
        reason = r"SAML response refused: %s signature Reference does not point at its parent element, client: "

        def set_uri(element_of, uri_of):
            def edit(d):
                ref = descendant(signature_of(element_of(d)), NS_DS, "Reference")
                ref.setAttribute("URI", uri_of(d))
            return edit

        response = lambda d: d.documentElement
        cases = [
            ("assertion", "Assertion", assertion_of, lambda d: ""),  # "" is the whole document
            ("assertion", "Assertion", assertion_of, lambda d: "#" + d.documentElement.getAttribute("ID")),
            ("assertion", "Assertion", assertion_of, lambda d: "#_nowhere"),
            ("assertion", "Assertion", assertion_of,
             lambda d: "#xpointer(id('%s'))" % assertion_of(d).getAttribute("ID")),
            ("response", "Response", response, lambda d: ""),
            ("response", "Response", response, lambda d: "#" + assertion_of(d).getAttribute("ID")),
        ]
        for i, (sign, what, element_of, uri_of) in enumerate(cases):
            with self.subTest(case=i, sign=sign):
                self.refuse_edit(set_uri(element_of, uri_of), reason % what, sign=sign)

    def test_duplicate_ids(self):
        def response_takes_assertion_id(d):
            d.documentElement.setAttribute("ID", assertion_of(d).getAttribute("ID"))

        def evil_assertion_with_the_same_id_first(d):
            a = assertion_of(d)
            evil = make_evil(a)
            evil.setAttribute("ID", a.getAttribute("ID"))
            d.documentElement.insertBefore(evil, a)

        def extensions_with_the_same_id(d):
            ext = d.createElementNS(NS_SAMLP, "samlp:Extensions")
            ext.setAttribute("ID", assertion_of(d).getAttribute("ID"))
            d.documentElement.insertBefore(ext, after_issuer(d.documentElement))

        for edit in (response_takes_assertion_id, evil_assertion_with_the_same_id_first,
                     extensions_with_the_same_id):
            with self.subTest(edit.__name__):
                a = self.answer(sign="assertion")
                doc = parse(a)
                assertion_id = assertion_of(doc).getAttribute("ID")
                edit(doc)
                self.refuse_xml(xml_of(doc), a["RelayState"],
                                r"SAML response refused: duplicate XML ID %s, client: " % re.escape(assertion_id))

    def test_several_references(self):
        def edit(d):
            ref = descendant(signature_of(assertion_of(d)), NS_DS, "Reference")
            extra = ref.cloneNode(True)
            extra.setAttribute("URI", "#" + d.documentElement.getAttribute("ID"))
            ref.parentNode.insertBefore(extra, ref.nextSibling)
        self.refuse_edit(edit, r"SAML response refused: Assertion signature must have exactly one Reference, client: ",
                         sign="assertion")

    def test_transforms_other_than_enveloped_and_exclusive_c14n(self):
        algorithms = [
            "http://www.w3.org/TR/1999/REC-xpath-19991116",
            "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
        ]
        for alg in algorithms:
            def edit(d):
                transforms = descendant(signature_of(assertion_of(d)), NS_DS, "Transforms")
                t = d.createElementNS(NS_DS, "Transform")
                t.setAttribute("Algorithm", alg)
                transforms.appendChild(t)
            with self.subTest(alg=alg):
                self.refuse_edit(edit, r"SAML response refused: Assertion signature transform not allowed: %s, client: "
                                 % re.escape(alg), sign="assertion")

    def test_canonicalization_with_comments(self):
        def edit(d):
            c14n = descendant(signature_of(assertion_of(d)), NS_DS, "CanonicalizationMethod")
            c14n.setAttribute("Algorithm", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments")
        self.refuse_edit(edit, r"SAML response refused: Assertion signature canonicalization is not exclusive c14n, "
                               r"client: ",
                         sign="assertion")

    def test_extra_signatures(self):
        def second_signature_on_the_assertion(d):
            a = assertion_of(d)
            a.insertBefore(signature_of(a).cloneNode(True), signature_of(a))

        def signature_inside_the_subject(d):
            a = assertion_of(d)
            descendant(a, NS_SAML, "Subject").appendChild(signature_of(a).cloneNode(True))

        for edit, reason in ((second_signature_on_the_assertion, "several signatures on one element"),
                             (signature_inside_the_subject, "signature found outside the Response and Assertion")):
            with self.subTest(edit.__name__):
                self.refuse_edit(edit, r"SAML response refused: %s, client: " % reason, sign="assertion")

    def test_signature_carrying_an_object(self):
        def edit(d):
            d_sig = signature_of(assertion_of(d))
            d_sig.appendChild(d.createElementNS(NS_DS, "Object"))
        self.refuse_edit(edit, r"SAML response refused: Assertion signature carries an Object element, client: ",
                         sign="assertion")

    def test_keyinfo_retrieval_method(self):
        def add_retrieval_method(element_of):
            def edit(d):
                key_info = child(signature_of(element_of(d)), NS_DS, "KeyInfo")
                rm = d.createElementNS(NS_DS, "RetrievalMethod")
                rm.setAttribute("URI", "file:///etc/passwd")
                rm.setAttribute("Type", "http://www.w3.org/2000/09/xmldsig#X509Data")
                key_info.insertBefore(rm, key_info.firstChild)
            return edit
        with self.subTest("assertion"):
            self.refuse_edit(add_retrieval_method(assertion_of),
                             r"SAML response refused: Assertion signature KeyInfo uses RetrievalMethod, client: ",
                             sign="assertion")
        with self.subTest("response"):
            self.refuse_edit(add_retrieval_method(lambda d: d.documentElement),
                             r"SAML response refused: Response signature KeyInfo uses RetrievalMethod, client: ",
                             sign="response")

    def test_comment_cdata_or_pi_inside_signed_values(self):
        # exc-c14n drops comments and turns CDATA into text, so the signatures still verify;
        # a reader taking the first text node would see "admin@example.org" alone.
        reason = r"SAML response refused: comment, CDATA or processing instruction inside the assertion, client: "
        signed_value = EVIL + ".evil.example"

        def split(element_of, make):
            def edit(d):
                element = element_of(d)
                self.assertEqual(element.firstChild.data, signed_value)
                set_text(element, EVIL)
                element.appendChild(make(d))
                element.appendChild(d.createTextNode(".evil.example"))
            return edit

        name_id = lambda d: descendant(assertion_of(d), NS_SAML, "NameID")

        def mail_value(d):
            for attribute in assertion_of(d).getElementsByTagNameNS(NS_SAML, "Attribute"):
                if attribute.getAttribute("FriendlyName") == "mail":
                    return child(attribute, NS_SAML, "AttributeValue")
            raise AssertionError("no mail attribute")

        cases = [
            ("comment in NameID", name_id, lambda d: d.createComment(""), {"nameid": signed_value}),
            ("comment in attribute", mail_value, lambda d: d.createComment(""), {"attr.mail": signed_value}),
            ("CDATA in NameID", name_id, lambda d: d.createCDATASection(""), {"nameid": signed_value}),
            ("PI in NameID", name_id, lambda d: d.createProcessingInstruction("x", "y"), {"nameid": signed_value}),
        ]
        for name, element_of, make, knobs in cases:
            with self.subTest(name):
                self.refuse_edit(split(element_of, make), reason, **knobs)


class WrappingTest(SecurityTest):
    """XML signature wrapping (Somorovsky et al., "On Breaking SAML", 2012): the signed original
    stays somewhere in the document so the signature verifies, while an evil copy naming
    admin@example.org sits where a careless reader looks."""

    def wrap_response(self, place, drop_wrapped_assertion=False):
        """XSW1/XSW2: a new root Response (new ID, evil assertion) keeps the original Response
        signature; the original Response, its signature removed, is wrapped somewhere inside."""
        a = self.answer(sign="response")
        doc = parse(a)
        root = doc.documentElement
        original = unsign(root.cloneNode(True))
        if drop_wrapped_assertion:
            original.removeChild(child(original, NS_SAML, "Assertion"))
        root.setAttribute("ID", new_id())
        assertion = assertion_of(doc)
        root.replaceChild(make_evil(assertion), assertion)
        place(root, signature_of(root), original)
        return xml_of(doc), a["RelayState"]

    def test_xsw1_original_response_inside_the_signature(self):
        place = lambda root, sig, original: sig.appendChild(original)
        self.refuse_xml(*self.wrap_response(place), TWO_ASSERTIONS)
        # Without the wrapped assertion, the lone Signature no longer points at its parent.
        self.refuse_xml(*self.wrap_response(place, drop_wrapped_assertion=True),
                        RESPONSE_REF_NOT_PARENT)

    def test_xsw2_original_response_before_the_signature(self):
        place = lambda root, sig, original: root.insertBefore(original, sig)
        self.refuse_xml(*self.wrap_response(place), TWO_ASSERTIONS)
        self.refuse_xml(*self.wrap_response(place, drop_wrapped_assertion=True),
                        RESPONSE_REF_NOT_PARENT)

    def wrap_assertion(self, edit):
        a = self.answer(sign="assertion")
        doc = parse(a)
        edit(doc, doc.documentElement, assertion_of(doc))
        self.refuse_xml(xml_of(doc), a["RelayState"], TWO_ASSERTIONS)

    def test_xsw3_evil_assertion_before_the_signed_one(self):
        self.wrap_assertion(lambda d, root, a: root.insertBefore(make_evil(a), a))

    def test_xsw4_signed_assertion_wrapped_inside_the_evil_one(self):
        def edit(d, root, a):
            evil = make_evil(a)
            root.replaceChild(evil, a)
            evil.appendChild(a)
        self.wrap_assertion(edit)

    def test_xsw5_evil_content_in_the_signed_assertion_copy_appended(self):
        # The signature stays in the tampered assertion and points at an untouched copy.
        def edit(d, root, a):
            root.appendChild(unsign(a.cloneNode(True)))
            a.setAttribute("ID", new_id())
            set_text(descendant(a, NS_SAML, "NameID"), EVIL)
        self.wrap_assertion(edit)

    def test_xsw6_evil_content_in_the_signed_assertion_copy_inside_its_signature(self):
        def edit(d, root, a):
            signature_of(a).appendChild(unsign(a.cloneNode(True)))
            a.setAttribute("ID", new_id())
            set_text(descendant(a, NS_SAML, "NameID"), EVIL)
        self.wrap_assertion(edit)

    def test_xsw7_signed_assertion_moved_into_extensions(self):
        def edit(d, root, a):
            ext = d.createElementNS(NS_SAMLP, "samlp:Extensions")
            root.insertBefore(ext, after_issuer(root))
            root.replaceChild(make_evil(a), a)
            ext.appendChild(a)
        self.wrap_assertion(edit)

    def test_signed_assertion_alone_in_extensions(self):
        # XSW7 without the evil twin: the one assertion must be a direct child of the Response.
        def edit(d):
            root = d.documentElement
            ext = d.createElementNS(NS_SAMLP, "samlp:Extensions")
            root.insertBefore(ext, after_issuer(root))
            ext.appendChild(assertion_of(d))
        self.refuse_edit(edit, r"SAML response refused: assertion is not a direct child of the Response, client: ",
                         sign="assertion")

    def test_xsw8_signed_assertion_moved_into_an_object_of_the_evil_signature(self):
        def edit(d, root, a):
            sig = signature_of(a)
            a.removeChild(sig)
            evil = make_evil(a)
            evil.insertBefore(sig, after_issuer(evil))
            obj = d.createElementNS(NS_DS, "Object")
            sig.appendChild(obj)
            root.replaceChild(evil, a)
            obj.appendChild(a)
        self.wrap_assertion(edit)

    def test_several_assertions(self):
        with self.subTest("an unsigned copy with its own ID after the signed assertion"):
            self.wrap_assertion(lambda d, root, a: root.appendChild(make_evil(a)))
        with self.subTest("two assertions, each validly signed for its own request"):
            first = parse(self.answer(sign="assertion"))
            a = self.answer(sign="assertion")
            doc = parse(a)
            other = doc.importNode(assertion_of(first), True)
            doc.documentElement.appendChild(other)
            self.refuse_xml(xml_of(doc), a["RelayState"], TWO_ASSERTIONS)

    def test_assertion_issuer_differs_from_the_response_issuer(self):
        self.refuse_knobs(r"SAML response refused: .*[Aa]ssertion [Ii]ssuer", issuer="http://evil.example/idp")

    def test_response_issuer_differs_from_the_assertion_issuer(self):
        self.refuse_knobs(r"SAML response refused: response issued by an unknown IdP, client: ",
                          response_issuer="http://evil.example/idp")


class DocumentTest(SecurityTest):
    """DTDs, sizes and transport: refused before any signature or SAML processing."""

    def with_doctype(self, doctype, name_id_text, **knobs):
        a = self.answer(**knobs)
        xml = xml_of(parse(a))
        xml = xml.replace(">alice@example.org</saml:NameID>", ">%s</saml:NameID>" % name_id_text, 1)
        return doctype + xml, a["RelayState"]

    def test_doctype_with_an_internal_entity(self):
        self.refuse_xml(*self.with_doctype('<!DOCTYPE samlp:Response [<!ENTITY who "admin@example.org">]>', "&who;"),
                        r"SAML response refused: DOCTYPE or entity declarations are not allowed, client: ")

    def test_doctype_with_an_external_entity(self):
        self.refuse_xml(*self.with_doctype('<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
                                           "&xxe;"),
                        r"SAML response refused: DOCTYPE or entity declarations are not allowed, client: ")
        external_dtd = '<!DOCTYPE samlp:Response SYSTEM "%s/evil.dtd">' % self.stack.idp_base
        self.refuse_xml(*self.with_doctype(external_dtd, "alice@example.org"),
                        r"SAML response refused: DOCTYPE or entity declarations are not allowed, client: ")

    def test_billion_laughs(self):
        entities = ['<!ENTITY lol0 "lol">'] + [
            '<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10) for i in range(1, 10)]
        doctype = "<!DOCTYPE samlp:Response [%s]>" % "".join(entities)
        self.refuse_xml(*self.with_doctype(doctype, "&lol9;"),
                        r"SAML response refused: DOCTYPE or entity declarations are not allowed, client: ")

    def test_doctype_in_utf16(self):
        # The byte search for "<!DOCTYPE" cannot see UTF-16: such a document is refused whole.
        xml, relay = self.with_doctype('<?xml version="1.0" encoding="UTF-16"?>'
                                       '<!DOCTYPE samlp:Response [<!ENTITY who "admin@example.org">]>', "&who;")
        r, mark = self.post(xml.encode("utf-16"), relay)
        self.assertRefused(r, 403, UTF16, mark)

    def test_utf16_response_is_refused_with_a_reason(self):
        # A validly signed Response re-encoded in UTF-16 (Lasso said "Unsupported protocol profile").
        for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
            with self.subTest(encoding):
                a = self.answer()
                xml = '<?xml version="1.0" encoding="UTF-16"?>' + decode_response(a["SAMLResponse"])
                r, mark = self.post(xml.encode(encoding), a["RelayState"])
                self.assertRefused(r, 403, UTF16, mark)

    def test_nesting_past_libxml2s_limit_is_too_deep(self):
        a = self.answer()
        deep = "<x>" * 300 + "</x>" * 300
        xml = decode_response(a["SAMLResponse"]).replace("</saml:Subject>", "</saml:Subject>" + deep, 1)
        self.refuse_xml(xml, a["RelayState"], r"SAML response refused: XML nested too deeply, client: ")

    def test_acs_takes_only_form_bodies(self):
        s = self.stack
        a = self.answer()
        body = urllib.parse.urlencode({"SAMLResponse": a["SAMLResponse"], "RelayState": a["RelayState"]})
        multipart = ("--b\r\nContent-Disposition: form-data; name=\"SAMLResponse\"\r\n\r\n%s\r\n--b--\r\n"
                     % a["SAMLResponse"])
        for content_type, payload in (("text/plain", body), ("application/json", body),
                                      ("multipart/form-data; boundary=b", multipart), (None, body)):
            with self.subTest(content_type):
                mark = s.mark()
                headers = {"Content-Type": content_type} if content_type else {}
                r = request(s.port, "POST", "/sso/acs", headers, body=payload)
                self.assertRefused(r, 415, r"SAML response refused: Content-Type \"%s\" is not "
                                           r"application/x-www-form-urlencoded, client: "
                                   % re.escape(content_type or ""), mark)
        # the same body as a form, with a charset parameter, signs in
        r = request(s.port, "POST", "/sso/acs",
                    {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}, body=body)
        self.assertEqual(r.status, 303, r.text()[:300])

    def padded(self, decoded_size):
        """A real signed Response padded with trailing whitespace to exactly decoded_size bytes."""
        a = self.answer()
        xml = decode_response(a["SAMLResponse"])
        self.assertLess(len(xml), decoded_size)
        return xml + " " * (decoded_size - len(xml)), a["RelayState"]

    def test_response_of_exactly_the_maximum_size_is_accepted(self):
        xml, relay = self.padded(MAX_RESPONSE)
        self.accept(encode_response(xml), relay)

    def test_oversized_post_body_is_refused_before_reading(self):
        xml, relay = self.padded(MAX_RESPONSE + 64 * 1024)
        r, mark = self.post(xml, relay)
        self.assertRefused(r, 413, r"SAML response refused: POST body larger than sso_max_response_size allows, "
                                   r"client: ", mark)

    def test_oversized_decoded_response_in_a_body_under_the_limit(self):
        # One byte over 256 KiB decoded: base64 of spaces has no '+' or '/', so the urlencoded
        # body stays under the POST limit and the decoder's own limit has to refuse it.
        xml, relay = self.padded(MAX_RESPONSE + 1)
        self.assertLess(len(encode_response(xml)), MAX_RESPONSE // 3 * 4 + 4096)
        self.assertLess(len(urllib.parse.urlencode({"SAMLResponse": encode_response(xml), "RelayState": relay})),
                        MAX_RESPONSE // 3 * 4 + 8192)
        r, mark = self.post(xml, relay)
        self.assertRefused(r, 400, r"SAML response refused: SAMLResponse is not valid base64 or is too large, "
                                   r"client: ", mark)

    def test_overlong_base64_in_a_body_under_the_limit(self):
        xml, relay = self.padded(MAX_RESPONSE + 4000)
        self.assertGreater(len(encode_response(xml)), MAX_RESPONSE // 3 * 4 + 4096)
        r, mark = self.post(xml, relay)
        self.assertLess(len(urllib.parse.urlencode({"SAMLResponse": encode_response(xml), "RelayState": relay})),
                        MAX_RESPONSE // 3 * 4 + 8192)
        self.assertRefused(r, 400, r"SAML response refused: SAMLResponse too large, client: ", mark)

    def test_deeply_nested_elements(self):
        def edit(d):
            value = descendant(assertion_of(d), NS_SAML, "AttributeValue")
            node = value
            for _ in range(200):
                nested = d.createElementNS("urn:example:nest", "n")
                node.appendChild(nested)
                node = nested
            children(value, "urn:example:nest", "n")[0].setAttribute("xmlns", "urn:example:nest")
        self.refuse_edit(edit, r"SAML response refused: XML nested too deeply, client: ")

    def test_too_many_elements(self):
        def edit(d):
            value = descendant(assertion_of(d), NS_SAML, "AttributeValue")
            for _ in range(5000):
                e = d.createElementNS("urn:example:many", "e")
                e.setAttribute("xmlns", "urn:example:many")
                value.appendChild(e)
        self.refuse_edit(edit, r"SAML response refused: too many XML elements, client: ")

    def test_malformed_base64(self):
        bad_base64 = r"SAML response refused: SAMLResponse is not valid base64 or is too large, client: "
        s = self.stack

        def mid(b64, repl):
            i = len(b64) // 2
            return b64[:i] + repl + b64[i + 1:]
        cases = {
            "bad character": lambda b64: mid(b64, "*"),
            "url-safe alphabet": lambda b64: b64.replace("+", "-").replace("/", "_") if "+" in b64 or "/" in b64
            else mid(b64, "-"),
            "truncated (no padding)": lambda b64: b64.rstrip("=")[:-1],
            "data after padding": lambda b64: "QQ==" + b64,
            "three padding characters": lambda b64: b64 + "Q===",
        }
        for name, mangle in cases.items():
            with self.subTest(name):
                a = self.answer()
                mark = s.mark()
                r = s.post_acs(mangle(a["SAMLResponse"]), a["RelayState"])
                self.assertRefused(r, 400, bad_base64, mark)

    def test_deflated_response(self):
        # The Redirect binding's raw DEFLATE is not accepted on the POST binding's ACS.
        a = self.answer()
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        deflated = c.compress(decode_response(a["SAMLResponse"]).encode()) + c.flush()
        r, mark = self.post(deflated, a["RelayState"])
        self.assertRefused(r, 403, r"SAML response refused: response is not well-formed XML, client: ", mark)

    def test_empty_saml_response(self):
        a = self.answer()
        mark = self.stack.mark()
        r = self.stack.post_acs("", a["RelayState"])
        self.assertRefused(r, 400, r"SAML response refused: no SAMLResponse in the request, client: ", mark)

    def test_saml_response_given_twice(self):
        a = self.answer()
        mark = self.stack.mark()
        r = self.stack.post_acs(a["SAMLResponse"], a["RelayState"], fields=[("SAMLResponse", a["SAMLResponse"])])
        self.assertRefused(r, 400, r"SAML response refused: SAMLResponse given twice, client: ", mark)

    def test_no_saml_response_field(self):
        a = self.answer()
        mark = self.stack.mark()
        r = self.stack.post_acs(None, raw_body=urllib.parse.urlencode({"RelayState": a["RelayState"]}))
        self.assertRefused(r, 400, r"SAML response refused: no SAMLResponse field in the POST, client: ", mark)

    def test_get_on_the_acs(self):
        a = self.answer()
        mark = self.stack.mark()
        r = self.stack.get("/sso/acs?" + urllib.parse.urlencode({"RelayState": a["RelayState"]}), BROWSER)
        self.assertRefused(r, 405, r"sso: ACS accepts only POST, client: ", mark)


class ConditionsTest(SecurityTest):
    """Validly signed Responses that must still be refused for what they say."""

    def test_non_success_status(self):
        self.refuse_knobs(r"SAML response refused: IdP returned a non-success status",
                          status="urn:oasis:names:tc:SAML:2.0:status:Requester")

    def test_non_success_status_without_assertion(self):
        # What an IdP really sends when the user cancels or fails to authenticate.
        self.refuse_knobs(r"SAML response refused: IdP returned a non-success status",
                          status="urn:oasis:names:tc:SAML:2.0:status:Responder", no_assertion=1)

    def test_missing_conditions(self):
        self.refuse_knobs(r"SAML response refused: assertion has no Conditions, client: ", no_conditions=1)

    def test_missing_authn_statement(self):
        self.refuse_knobs(r"SAML response refused: assertion has no AuthnStatement, client: ", no_authn_statement=1)

    def test_missing_name_id(self):
        self.refuse_knobs(r"SAML response refused: assertion has no NameID, client: ", nameid="")

    def test_name_id_of_white_space(self):
        for blank in ("   ", " \t\n "):
            with self.subTest(repr(blank)):
                self.refuse_knobs(r"SAML response refused: assertion NameID is only white space, client: ",
                                  nameid=blank)

    def test_version_other_than_2_0(self):
        for knob, what in (("version", "Response"), ("assertion_version", "Assertion")):
            for version in ("1.1", "2.1"):
                with self.subTest(knob=knob, version=version):
                    self.refuse_knobs(r'SAML response refused: %s Version is "%s", not 2\.0, client: '
                                      % (what, re.escape(version)), **{knob: version})
        self.accept_knobs(version="2.0", assertion_version="2.0")

    def test_missing_subject_confirmation(self):
        self.refuse_knobs(r"SAML response refused: assertion has no bearer SubjectConfirmation, client: ",
                          no_subject_confirmation=1)

    def test_sender_vouches_subject_confirmation(self):
        self.refuse_knobs(r"SAML response refused: assertion has no bearer SubjectConfirmation, client: ",
                          confirmation_method="urn:oasis:names:tc:SAML:2.0:cm:sender-vouches")

    def test_wrong_audience(self):
        self.refuse_knobs(r"SAML response refused: assertion Audience does not name this SP \(%s\), client: "
                          % re.escape(self.stack.entity_id), audience="http://other.example/sp")

    def test_wrong_recipient(self):
        self.refuse_knobs(r"SAML response refused: SubjectConfirmationData Recipient http://other\.example/acs "
                          r"is not our ACS URL, client: ", recipient="http://other.example/acs")

    def test_wrong_destination(self):
        self.refuse_knobs(r"SAML response refused: Response Destination http://other\.example/acs "
                          r"is not our ACS URL, client: ", destination="http://other.example/acs")

    def test_unknown_issuer(self):
        self.refuse_knobs(r"SAML response refused: response issued by an unknown IdP, client: ",
                          issuer="http://evil.example/idp", response_issuer="http://evil.example/idp")

    # The default sso_clock_skew is 60 s: these are well beyond it.
    def test_expired_conditions(self):
        self.refuse_knobs(r"SAML response refused: assertion has expired \(NotOnOrAfter ", not_on_or_after=-120)

    def test_expired_subject_confirmation_data(self):
        self.refuse_knobs(r"SAML response refused: SubjectConfirmationData has expired \(NotOnOrAfter ",
                          scd_not_on_or_after=-120)

    def test_future_not_before(self):
        self.refuse_knobs(r"SAML response refused: assertion is not yet valid \(NotBefore ", not_before=120)


class UserAttributeTest(SecurityTest):
    STACK_ARGS = {"server_extra": "sso_attribute user mail;"}

    def test_user_attribute_of_white_space(self):
        self.refuse_knobs(r"SAML response refused: the attribute mapped to the user name is missing, empty or "
                          r"white space, client: ", **{"attr.mail": "   "})
        self.accept_knobs()


ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
XMLSEC1 = "/usr/bin/xmlsec1"


def signature_template(doc, element, method):
    """An empty enveloped ds:Signature for element (after its Issuer), for xmlsec1 --sign."""
    def el(parent, name, **attrs):
        e = doc.createElementNS(NS_DS, "ds:" + name)
        for k, v in attrs.items():
            e.setAttribute(k, v)
        parent.appendChild(e)
        return e
    sig = doc.createElementNS(NS_DS, "ds:Signature")
    sig.setAttribute("xmlns:ds", NS_DS)
    info = el(sig, "SignedInfo")
    el(info, "CanonicalizationMethod", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    el(info, "SignatureMethod", Algorithm=method)
    ref = el(info, "Reference", URI="#" + element.getAttribute("ID"))
    transforms = el(ref, "Transforms")
    el(transforms, "Transform", Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature")
    el(transforms, "Transform", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    el(ref, "DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    el(ref, "DigestValue")
    el(sig, "SignatureValue")
    element.insertBefore(sig, after_issuer(element))


def xmlsec1_sign(directory, xml, key_pem):
    """Signs the first (empty) ds:Signature of xml with the xmlsec1 tool; (rc, signed xml, stderr)."""
    src, out = os.path.join(directory, "to-sign.xml"), os.path.join(directory, "signed.xml")
    with open(src, "w") as f:
        f.write(xml)
    run = subprocess.run([XMLSEC1, "--sign", "--privkey-pem", key_pem,
                          "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                          "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                          "--output", out, src], capture_output=True, text=True)
    signed = None
    if run.returncode == 0:
        with open(out) as f:
            signed = f.read()
    return run.returncode, signed, run.stderr


class EcdsaIdpTest(SecurityTest):
    """An IdP whose metadata certificate holds an EC P-256 key and which signs with
    ECDSA-SHA256 (the xmlsec1 tool signs what the mock IdP built unsigned)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.stack
        for name in ("ec", "ec-rogue"):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-days", "2", "-subj", "/CN=" + name, "-keyout", s.path(name + ".key"),
                            "-out", s.path(name + ".crt")], check=True, capture_output=True)
        md = subprocess.run([PYTHON, MOCK_IDP, "metadata", "--entity-id", s.idp_entity_id, "--base-url", s.idp_base,
                             "--cert", s.path("ec.crt")], check=True, capture_output=True)
        with open(s.path("idp-metadata.xml"), "wb") as f:
            f.write(md.stdout)
        s.reload(wait_for_old_workers=True)

    def ecdsa_signed(self, what, key="ec", method=ECDSA_SHA256, edit=None):
        """A Response for a fresh AuthnRequest, signed by key on what ("assertion", "response",
        "both"); edit(doc) runs on the signed document. Returns (xml, RelayState)."""
        a = self.answer(sign="none")
        doc = parse(a)
        xml = xml_of(doc)
        for element_of in ((assertion_of,) if what == "assertion" else (lambda d: d.documentElement,)
                           if what == "response" else (assertion_of, lambda d: d.documentElement)):
            doc = minidom.parseString(xml)
            signature_template(doc, element_of(doc), method)
            rc, xml, err = xmlsec1_sign(self.stack.dir, xml_of(doc), self.stack.path(key + ".key"))
            self.assertEqual(rc, 0, err)
        if edit:
            doc = minidom.parseString(xml)
            edit(doc)
            xml = xml_of(doc)
        return xml, a["RelayState"]

    def test_ecdsa_sha256_signatures_sign_in(self):
        for what in ("assertion", "response", "both"):
            with self.subTest(what):
                xml, relay = self.ecdsa_signed(what)
                self.assertIn(ECDSA_SHA256, xml)
                self.accept(encode_response(xml), relay)

    def test_ecdsa_signature_by_another_key(self):
        xml, relay = self.ecdsa_signed("assertion", key="ec-rogue")
        self.refuse_xml(xml, relay, BAD_SIGNATURE)

    def test_ecdsa_signed_content_changed_after_signing(self):
        def edit(d):
            set_text(descendant(assertion_of(d), NS_SAML, "NameID"), EVIL)
        for what, reason in (("assertion", ASSERTION_DIGEST), ("response", RESPONSE_DIGEST)):
            with self.subTest(what):
                self.refuse_xml(*self.ecdsa_signed(what, edit=edit), reason)

    def test_rsa_signature_when_the_metadata_has_only_the_ec_key(self):
        self.refuse_knobs(BAD_SIGNATURE, sign="assertion")

    def test_rsa_pss_cannot_be_signed_by_debians_xmlsec1_nor_verified(self):
        # xmlsec 1.2.37 (Debian 12) has no RSA-PSS transform: the tool cannot sign with it ...
        a = self.answer(sign="none")
        doc = parse(a)
        signature_template(doc, assertion_of(doc), RSA_PSS_SHA256)
        rc, _, err = xmlsec1_sign(self.stack.dir, xml_of(doc), self.stack.path("idp.key"))
        self.assertNotEqual(rc, 0)
        self.assertIn("href=%s" % RSA_PSS_SHA256, err)
        # ... and a Response that names it is refused with a reason that says so.
        xml, relay = self.ecdsa_signed("assertion")
        xml = xml.replace(ECDSA_SHA256, RSA_PSS_SHA256)
        self.refuse_xml(xml, relay, r"SAML response refused: Assertion signature method RSA-PSS \(%s\) cannot be "
                                    r"verified with this xmlsec \(1\.2\); have the IdP sign with RSA-SHA256 or "
                                    r"ECDSA-SHA256, client: " % re.escape(RSA_PSS_SHA256))


class ClockSkewTest(SecurityTest):
    STACK_ARGS = {"server_extra": "sso_clock_skew 10s;"}

    def test_not_before_5s_ahead_is_accepted(self):
        self.accept_knobs(not_before=5)

    def test_not_before_30s_ahead_is_refused(self):
        self.refuse_knobs(r"SAML response refused: assertion is not yet valid \(NotBefore ", not_before=30)

    def test_not_on_or_after_5s_ago_is_accepted(self):
        self.accept_knobs(not_on_or_after=-5)
        self.accept_knobs(scd_not_on_or_after=-5)

    def test_not_on_or_after_30s_ago_is_refused(self):
        self.refuse_knobs(r"SAML response refused: assertion has expired \(NotOnOrAfter ", not_on_or_after=-30)
        self.refuse_knobs(r"SAML response refused: SubjectConfirmationData has expired \(NotOnOrAfter ",
                          scd_not_on_or_after=-30)


class Sha1AllowedTest(SecurityTest):
    STACK_ARGS = {"server_extra": "sso_allow_sha1 on;"}

    def test_sha1_signature_is_accepted_when_allowed(self):
        for sign in ("both", "assertion", "response"):
            with self.subTest(sign=sign):
                self.accept_knobs(sign=sign, sig_alg="sha1")


class ContextTest(SecurityTest):
    """Replays and answers to requests we did not make."""

    def test_assertion_id_reused_in_a_later_login(self):
        a = self.answer()
        assertion_id = assertion_of(parse(a)).getAttribute("ID")
        self.accept(a["SAMLResponse"], a["RelayState"])
        self.refuse_knobs(r"SAML response refused: assertion was already used \(replay\): .*%s, client: "
                          % re.escape(assertion_id), assertion_id=assertion_id)

    def test_same_response_posted_twice(self):
        a = self.answer()
        self.accept(a["SAMLResponse"], a["RelayState"])
        request_id = parse(a).documentElement.getAttribute("InResponseTo")
        mark = self.stack.mark()
        r = self.stack.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertRefused(r, 403, r"SAML response refused: InResponseTo %s names no AuthnRequest this SP has pending"
                           % re.escape(request_id), mark)

    def test_in_response_to_never_issued(self):
        self.refuse_knobs(r"SAML response refused: InResponseTo _bogus names no AuthnRequest this SP has pending",
                          in_response_to="_bogus")

    def request_id(self, location):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15)
        return minidom.parseString(xml).documentElement.getAttribute("ID")

    def test_in_response_to_of_our_shape_with_a_forged_mac(self):
        # An AuthnRequest ID proves itself (nothing is stored when a login starts): one made up
        # in its shape, or altered in its MAC, is refused.
        s = self.stack
        location = s.start_login("/app/")
        real = self.request_id(location)
        forged = real[:-6] + ("AAAAAA" if real[-6:] != "AAAAAA" else "BBBBBB")
        a = s.idp_response(location, "alice", in_response_to=forged)
        mark = s.mark()
        r = s.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertRefused(r, 403, r"SAML response refused: RelayState does not belong to the AuthnRequest named "
                                   r"by InResponseTo \(altered, or the ID was not made with this SP's key\)", mark)

    def test_return_address_is_carried_in_the_relay_state_under_the_mac(self):
        s = self.stack
        location = s.start_login("/app/deep?x=1")
        a = s.idp_response(location, "alice")
        self.assertTrue(a["RelayState"].endswith("/app/deep?x=1"), a["RelayState"])
        # another same-origin address in its place breaks the MAC
        mark = s.mark()
        r = s.post_acs(a["SAMLResponse"], a["RelayState"].replace("/app/deep?x=1", "/app/other"))
        self.assertRefused(r, 403, r"RelayState does not belong to the AuthnRequest", mark)
        r = s.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertEqual((r.status, r.header("Location")), (303, "/app/deep?x=1"))

    def test_authn_request_ids_are_unique(self):
        # An AuthnRequest ID is answered once (the replay cache): two logins sharing one could not
        # both finish. Enough logins to reach both workers.
        ids = []
        for _ in range(40):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.stack.start_login("/app/")).query)
            xml = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15)
            ids.append(minidom.parseString(xml).documentElement.getAttribute("ID"))
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        self.assertEqual(duplicates, [], "AuthnRequest IDs issued more than once")

    def test_unsolicited_response(self):
        s = self.stack
        a = s.unsolicited("alice")
        mark = s.mark()
        r = s.post_acs(a["SAMLResponse"], a["RelayState"])
        self.assertRefused(r, 403, r"SAML response refused: unsolicited Response \(no InResponseTo\); "
                                   r"IdP-initiated login is off, client: ", mark)

    def test_relay_state_tampered(self):
        # the return address travels in the RelayState under the ID's MAC: changing it breaks the MAC
        reason = (r"SAML response refused: RelayState does not belong to the AuthnRequest named by InResponseTo"
                  r"( \(altered, or the ID was not made with this SP's key\))?, client: ")
        for name, tamper in (("changed", lambda rs: rs[:-1] + ("A" if rs[-1] != "A" else "B")),
                             # accepted whenever both logins got the same AuthnRequest ID
                             # (see test_authn_request_ids_are_unique)
                             ("another login's", lambda rs: self.answer()["RelayState"]),
                             ("absent", lambda rs: None)):
            with self.subTest(name):
                a = self.answer()
                relay = tamper(a["RelayState"])
                self.assertNotEqual(relay, a["RelayState"])
                mark = self.stack.mark()
                r = self.stack.post_acs(a["SAMLResponse"], relay)
                self.assertRefused(r, 403, reason, mark)


class ReplayAfterEvictionTest(SecurityTest):
    STACK_ARGS = {"http_extra": "sso_zone small:64k;"}

    def test_replay_cache_survives_session_eviction(self):
        s = self.stack
        a = self.answer()
        assertion_id = assertion_of(parse(a)).getAttribute("ID")
        first = self.accept(a["SAMLResponse"], a["RelayState"])
        # Enough logins to turn the small session zone over several times. The first session
        # is not looked at in between: a lookup would refresh it in the LRU order. The replay
        # cache has a zone of its own, so none of this touches the seen assertion IDs.
        for n in range(1, 201):
            answer = self.answer()
            r = s.post_acs(answer["SAMLResponse"], answer["RelayState"])
            self.assertEqual(r.status, 303, (n, s.sso_lines_since((0, 0))[-1:]))
        self.assertEqual(s.get("/app/", JSON, cookie=first).status, 401, "the first session should be evicted")
        self.refuse_knobs(r"SAML response refused: assertion was already used \(replay\): .*%s, client: "
                          % re.escape(assertion_id), assertion_id=assertion_id)


if __name__ == "__main__":
    unittest.main()
