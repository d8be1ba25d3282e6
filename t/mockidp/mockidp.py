#!/usr/bin/python3
"""Mock SAML 2.0 Identity Provider for the nginx-sso tests, built on python3-lasso.

The IdP speaks real SAML through lasso: it parses and verifies AuthnRequests,
builds Responses and Assertions as lasso objects and lets lasso sign them.  It
has no login form: the test (or a person) picks a user from USERS.json.  On
top of the normal flow it has "knobs", query parameters that alter the
Response before it is signed, so that the SP's security checks can be tested
with messages whose signatures are valid.

Sub-commands:

  mockidp.py metadata --entity-id URL --base-url URL --cert CERT.pem
      Print the IdP's SAML 2.0 metadata (no server needed).

  mockidp.py serve --listen 127.0.0.1:PORT --entity-id URL --base-url URL
                   --key KEY.pem --cert CERT.pem --users USERS.json
                   --sp-metadata-url URL [--rogue-key K.pem --rogue-cert C.pem]
      Serve the IdP.  Prints "READY <port>" once listening; exits on SIGTERM.
      The SP metadata is fetched from --sp-metadata-url on the first request
      that needs it, then cached (a failed fetch is retried next time).

Endpoints:
  GET  /metadata      the IdP metadata
  GET  /users         JSON list of user names
  GET  /sso           HTTP-Redirect AuthnRequest (SAMLRequest, RelayState,
                      SigAlg, Signature).  Without user=NAME: an HTML page to
                      pick a user.  With user=NAME: an auto-submitting HTML
                      form posting SAMLResponse/RelayState to the SP's ACS, or
                      with format=json: {"acs", "SAMLResponse", "RelayState"}.
  POST /sso           the same for an HTTP-POST AuthnRequest (form fields
                      SAMLRequest, RelayState, and user / format / knobs either
                      in the form or in the query string).
  GET  /unsolicited   user=NAME[&relay_state=...][&format=json]: IdP-initiated
                      Response (no InResponseTo).
  GET  /slo           HTTP-Redirect LogoutRequest from the SP: answers Success
                      (knobs status=URI, in_response_to=ID, sign=none) with a
                      LogoutResponse redirected to the SP's SLO endpoint.  A LogoutResponse (the
                      SP's answer to /initiate-logout) is verified and logged.
  POST /slo           the same for HTTP-POST (answer: auto-submitting form, or
                      with format=json {"url", "SAMLResponse", "RelayState"}).
  GET  /slo-log       JSON list of the logout messages the SP sent (kind, binding,
                      signed, name_id, session_index, status, ...).
  GET  /initiate-logout  user=NAME: an IdP-initiated LogoutRequest for the user's
                      last session at the SP, as JSON {"url", "SAMLRequest",
                      "RelayState", "ID"}; knobs binding=redirect|post, sign=none,
                      key=rogue, session_index=STR, no_session_index=1, nameid=STR,
                      relay_state=STR.
  Metadata publishes SingleLogoutService only with --slo redirect[,post].

An AuthnRequest that carries a signature must verify against the SP metadata
(else 400); an unsigned one is accepted.

Knobs (query parameters of /sso and /unsolicited; see apply_knobs()):
  sign=both|assertion|response|none   what to sign (default both)
  sig_alg=sha256|sha1                 RSA-SHA256 (default) or RSA-SHA1
  key=rogue                           sign with --rogue-key, a key not in the
                                      metadata (its cert goes into KeyInfo)
  audience=STR  recipient=STR  destination=STR  issuer=STR
  response_issuer=STR  in_response_to=STR (Response and
                      SubjectConfirmationData)
      An empty value removes the element/attribute instead.
  not_before=SECONDS  not_on_or_after=SECONDS   Conditions, relative to now
                                                (defaults -60 and +300)
  scd_not_on_or_after=SECONDS    SubjectConfirmationData (default +300)
  status=URI               top-level StatusCode (the Assertion is kept)
  no_assertion=1           leave the Assertion out
  no_conditions=1  no_authn_statement=1  no_subject_confirmation=1
  confirmation_method=URI  (default urn:oasis:names:tc:SAML:2.0:cm:bearer)
  nameid=STR  nameid_format=URI
  nameid_qualifier=STR  sp_nameid_qualifier=STR   the NameID's NameQualifier
                           and SPNameQualifier (default: none)
  assertion_id=STR         force the Assertion ID (replay tests)
  version=STR  assertion_version=STR   the Version of the Response / the
                           Assertion (default 2.0)
  attr.NAME=VALUE          replace the values of attribute NAME (Name or
                           FriendlyName; added if the user lacks it);
                           repeat for several values; attr.NAME= with an
                           empty value sends one empty value
  encrypt=ALG              send an EncryptedAssertion: aes128-cbc,
                           aes256-cbc, tripledes-cbc (encrypted by lasso,
                           LASSO_ENCRYPTION_MODE_ASSERTION style, to the
                           encryption certificate in the SP metadata),
                           aes128-gcm, aes256-gcm (lasso has no GCM: the
                           xmlsec1 tool encrypts)
  key_transport=rsa-oaep|rsa-1_5   how the session key is encrypted
                           (default rsa-oaep)
  encrypt_to=rogue         encrypt to --rogue-cert instead (wrong key; xmlsec1)
  encrypted_content=two_assertions   the plaintext is the assertion twice
                           (xmlsec1)
  tamper_ciphertext=1      change one character of the EncryptedData's
                           CipherValue before the Response is signed

How knobs are applied: lasso signs a message when it is serialised, not when it
is built.  So the Response is built with lasso's normal calls, the knobs are
applied to the lasso objects (lasso.Samlp2Response / lasso.Saml2Assertion),
and the Response is serialised again with exportToBase64(), which signs the
altered content.  Two knobs need a detour:
  * Recipient and Destination are overwritten by buildAuthnResponseMsg(), so
    they can only be set after it - hence the re-export above.
  * The Python binding cannot switch off the signature lasso sets up on the
    Assertion in buildAssertion(); for sign=response|none the Assertion is
    replaced by a fresh lasso.Saml2Assertion holding the same children, which
    has no signature set up.
"""

import argparse
import base64
import html
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import traceback
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lasso

NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_FORMATS = (
    NAMEID_EMAIL,
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
)
ATTRNAME_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
ATTRNAME_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

SIG_ALGS = {
    "sha256": lasso.SIGNATURE_METHOD_RSA_SHA256,
    "sha1": lasso.SIGNATURE_METHOD_RSA_SHA1,
}
SIGN_CHOICES = ("both", "assertion", "response", "none")
# Knobs taking a string; see Knobs.strings for the meaning of an empty one.
STRING_KNOBS = ("audience", "recipient", "destination", "issuer",
                "response_issuer", "in_response_to", "status",
                "confirmation_method", "nameid", "nameid_format",
                "assertion_id", "version", "assertion_version",
                "nameid_qualifier", "sp_nameid_qualifier")
TIME_KNOBS = {"not_before": -60, "not_on_or_after": 300,
              "scd_not_on_or_after": 300}
FLAG_KNOBS = ("no_conditions", "no_authn_statement",
              "no_subject_confirmation", "no_assertion", "tamper_ciphertext")
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11 = "http://www.w3.org/2009/xmlenc11#"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
# encrypt=ALG: (lasso's symmetric key type or None when lasso cannot, the
# EncryptionMethod URI, xmlsec1's --session-key)
ENCRYPTIONS = {
    "aes128-cbc": (lasso.ENCRYPTION_SYM_KEY_TYPE_AES_128, NS_XENC + "aes128-cbc", "aes-128"),
    "aes256-cbc": (lasso.ENCRYPTION_SYM_KEY_TYPE_AES_256, NS_XENC + "aes256-cbc", "aes-256"),
    "tripledes-cbc": (lasso.ENCRYPTION_SYM_KEY_TYPE_3DES, NS_XENC + "tripledes-cbc", "des-192"),
    "aes128-gcm": (None, NS_XENC11 + "aes128-gcm", "aes-128"),
    "aes256-gcm": (None, NS_XENC11 + "aes256-gcm", "aes-256"),
}
KEY_TRANSPORTS = {
    "rsa-oaep": (lasso.KEY_ENCRYPTION_METHOD_OAEP, NS_XENC + "rsa-oaep-mgf1p"),
    "rsa-1_5": (lasso.KEY_ENCRYPTION_METHOD_PKCS1, NS_XENC + "rsa-1_5"),
}
XMLSEC1 = "/usr/bin/xmlsec1"


class HttpError(Exception):
    """An error to report to the HTTP client with the given status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------
# Metadata


def cert_base64(cert_path):
    """The certificate's DER encoding in base64, as ds:X509Certificate wants."""
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    encoded = base64.b64encode(der).decode("ascii")
    return "\n" + "\n".join(textwrap.wrap(encoded, 64)) + "\n"


SLO_BINDINGS = {"redirect": BINDING_REDIRECT, "post": BINDING_POST}


def slo_bindings(value):
    """--slo: a comma-separated list of redirect/post, or none."""
    names = [] if value in ("", "none") else value.split(",")
    for name in names:
        if name not in SLO_BINDINGS:
            raise argparse.ArgumentTypeError("--slo takes redirect, post, both comma-separated, or none")
    return names


def build_metadata(entity_id, base_url, cert_path, slo=()):
    """The IdP's EntityDescriptor as a string; `slo` lists the SingleLogoutService bindings."""
    ET.register_namespace("md", NS_MD)
    ET.register_namespace("ds", NS_DS)
    base_url = base_url.rstrip("/")
    entity = ET.Element(f"{{{NS_MD}}}EntityDescriptor", entityID=entity_id)
    idp = ET.SubElement(entity, f"{{{NS_MD}}}IDPSSODescriptor", {
        "protocolSupportEnumeration": NS_PROTOCOL,
        "WantAuthnRequestsSigned": "false",
    })
    key = ET.SubElement(idp, f"{{{NS_MD}}}KeyDescriptor", use="signing")
    key_info = ET.SubElement(key, f"{{{NS_DS}}}KeyInfo")
    x509 = ET.SubElement(key_info, f"{{{NS_DS}}}X509Data")
    ET.SubElement(x509, f"{{{NS_DS}}}X509Certificate").text = cert_base64(cert_path)
    for name in slo:
        ET.SubElement(idp, f"{{{NS_MD}}}SingleLogoutService",
                      Binding=SLO_BINDINGS[name], Location=base_url + "/slo")
    for name_id_format in NAMEID_FORMATS:
        ET.SubElement(idp, f"{{{NS_MD}}}NameIDFormat").text = name_id_format
    for binding in (BINDING_REDIRECT, BINDING_POST):
        ET.SubElement(idp, f"{{{NS_MD}}}SingleSignOnService",
                      Binding=binding, Location=base_url + "/sso")
    ET.indent(entity)
    return ET.tostring(entity, encoding="unicode", xml_declaration=True) + "\n"


# --------------------------------------------------------------------------
# Helpers


def saml_time(offset_seconds=0):
    """A SAML dateTime (UTC, second precision) offset from now."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(time.time() + offset_seconds))


def load_users(path):
    with open(path, encoding="utf-8") as f:
        users = json.load(f)
    if not isinstance(users, dict):
        raise ValueError(f"{path}: expected a JSON object of users")
    return users


def text_value(value):
    """A saml:AttributeValue holding plain text."""
    node = lasso.MiscTextNode.newWithString(value)
    node.textChild = True
    attribute_value = lasso.Saml2AttributeValue()
    attribute_value.any = (node,)
    return attribute_value


def make_attribute(name, values, friendly_name=None, name_format=None):
    attribute = lasso.Saml2Attribute()
    attribute.name = name
    attribute.nameFormat = name_format or (
        ATTRNAME_URI if name.startswith("urn:") else ATTRNAME_BASIC)
    if friendly_name:
        attribute.friendlyName = friendly_name
    attribute.attributeValue = tuple(text_value(v) for v in values)
    return attribute


def name_id(content, name_id_format):
    node = lasso.Saml2NameID()
    node.content = content
    node.format = name_id_format
    return node


def issuer(entity_id):
    node = lasso.Saml2NameID()
    node.content = entity_id
    return node


def has_xml_signature(saml_request_b64):
    """True if a POSTed (base64) request has an enveloped ds:Signature."""
    try:
        root = ET.fromstring(base64.b64decode(saml_request_b64))
    except (ValueError, ET.ParseError):
        return False
    return root.find(f"{{{NS_DS}}}Signature") is not None


# --------------------------------------------------------------------------
# Knobs


class Knobs:
    """The test knobs of one request, validated."""

    def __init__(self, params):
        """params: dict name -> list of values (urllib.parse.parse_qs)."""
        def one(name, default=None):
            values = params.get(name)
            return values[-1] if values else default

        self.sign = one("sign", "both")
        if self.sign not in SIGN_CHOICES:
            raise HttpError(400, f"sign must be one of {', '.join(SIGN_CHOICES)}")
        sig_alg = one("sig_alg", "sha256")
        if sig_alg not in SIG_ALGS:
            raise HttpError(400, "sig_alg must be sha256 or sha1")
        self.sig_alg = sig_alg
        self.key = one("key", "idp")
        if self.key not in ("idp", "rogue"):
            raise HttpError(400, "key must be rogue (or idp)")
        # None: not given; "": remove the target; otherwise the new value.
        self.strings = {name: one(name) for name in STRING_KNOBS}
        self.times = {}
        for name, default in TIME_KNOBS.items():
            try:
                self.times[name] = int(one(name, default))
            except ValueError:
                raise HttpError(400, f"{name} must be an integer (seconds)")
        self.flags = {name: one(name, "0") not in ("", "0") for name in FLAG_KNOBS}
        self.encrypt = one("encrypt")
        if self.encrypt is not None and self.encrypt not in ENCRYPTIONS:
            raise HttpError(400, f"encrypt must be one of {', '.join(ENCRYPTIONS)}")
        self.key_transport = one("key_transport", "rsa-oaep")
        if self.key_transport not in KEY_TRANSPORTS:
            raise HttpError(400, "key_transport must be rsa-oaep or rsa-1_5")
        self.encrypt_to = one("encrypt_to", "sp")
        if self.encrypt_to not in ("sp", "rogue"):
            raise HttpError(400, "encrypt_to must be rogue (or sp)")
        self.encrypted_content = one("encrypted_content", "assertion")
        if self.encrypted_content not in ("assertion", "two_assertions"):
            raise HttpError(400, "encrypted_content must be two_assertions (or assertion)")
        self.attributes = {name[len("attr."):]: values
                           for name, values in params.items()
                           if name.startswith("attr.") and len(name) > 5}


def replace_attributes(assertion, overrides):
    """Apply attr.NAME=VALUE knobs to the assertion's AttributeStatement."""
    if not overrides:
        return
    if not assertion.attributeStatement:
        assertion.attributeStatement = (lasso.Saml2AttributeStatement(),)
    statement = assertion.attributeStatement[0]
    attributes = list(statement.attribute or ())
    for name, values in overrides.items():
        for attribute in attributes:
            if name in (attribute.name, attribute.friendlyName):
                attribute.attributeValue = tuple(text_value(v) for v in values)
                break
        else:
            attributes.append(make_attribute(name, values))
    statement.attribute = tuple(attributes)


def apply_knobs(login, knobs):
    """Alter the built (not yet re-serialised) Response and Assertion."""
    response = login.response
    assertion = login.assertion
    s = knobs.strings

    if s["destination"] is not None:
        response.destination = s["destination"] or None
    if s["response_issuer"] is not None:
        response.issuer = issuer(s["response_issuer"]) if s["response_issuer"] else None
    if s["in_response_to"] is not None:
        response.inResponseTo = s["in_response_to"] or None
    if s["status"]:
        response.status.statusCode.value = s["status"]
        response.status.statusCode.statusCode = None

    if s["version"] is not None:
        response.version = s["version"] or None
    if s["assertion_version"] is not None:
        assertion.version = s["assertion_version"] or None
    if s["issuer"] is not None:
        assertion.issuer = issuer(s["issuer"]) if s["issuer"] else None
    if s["assertion_id"]:
        assertion.iD = s["assertion_id"]
        for statement in assertion.authnStatement or ():
            statement.sessionIndex = s["assertion_id"]
    if s["nameid"] is not None or s["nameid_format"] is not None:
        current = assertion.subject.nameID
        assertion.subject.nameID = name_id(
            current.content if s["nameid"] is None else s["nameid"],
            s["nameid_format"] or current.format)
    if s["nameid_qualifier"] is not None:
        assertion.subject.nameID.nameQualifier = s["nameid_qualifier"] or None
    if s["sp_nameid_qualifier"] is not None:
        assertion.subject.nameID.spNameQualifier = s["sp_nameid_qualifier"] or None

    conditions = assertion.conditions
    conditions.notBefore = saml_time(knobs.times["not_before"])
    conditions.notOnOrAfter = saml_time(knobs.times["not_on_or_after"])
    if s["audience"] is not None:
        restriction = conditions.audienceRestriction[0]
        if s["audience"]:
            restriction.audience = s["audience"]
        else:
            conditions.audienceRestriction = ()

    confirmation = assertion.subject.subjectConfirmation
    data = confirmation.subjectConfirmationData
    data.notOnOrAfter = saml_time(knobs.times["scd_not_on_or_after"])
    if s["recipient"] is not None:
        data.recipient = s["recipient"] or None
    if s["in_response_to"] is not None:
        data.inResponseTo = s["in_response_to"] or None
    if s["confirmation_method"] is not None:
        confirmation.method = s["confirmation_method"] or None

    replace_attributes(assertion, knobs.attributes)

    if knobs.flags["no_conditions"]:
        assertion.conditions = None
    if knobs.flags["no_authn_statement"]:
        assertion.authnStatement = ()
    if knobs.flags["no_subject_confirmation"]:
        assertion.subject.subjectConfirmation = None

    if knobs.sign in ("response", "none"):
        assertion = unsigned_copy(assertion)
    response.assertion = () if knobs.flags["no_assertion"] else (assertion,)


def unsigned_copy(assertion):
    """A new Assertion with the same content and no signature set up."""
    copy = lasso.Saml2Assertion()
    for field in ("iD", "version", "issueInstant", "issuer", "subject",
                  "conditions", "advice", "statement", "authnStatement",
                  "authzDecisionStatement", "attributeStatement"):
        setattr(copy, field, getattr(assertion, field))
    return copy


def xmlsec1_encrypt(plaintext, cert, data_alg, key_alg, session_key, cert_is_path=False):
    """An EncryptedAssertion (as lasso's saml:EncryptedElement) holding
    `plaintext`, encrypted by the xmlsec1 tool to `cert` (PEM text, or a path)."""
    template = (
        f'<xenc:EncryptedData xmlns:xenc="{NS_XENC}" Type="{NS_XENC}Element">'
        f'<xenc:EncryptionMethod Algorithm="{data_alg}"/>'
        f'<ds:KeyInfo xmlns:ds="{NS_DS}"><xenc:EncryptedKey>'
        f'<xenc:EncryptionMethod Algorithm="{key_alg}"/>'
        '<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>'
        '<xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>')
    with tempfile.TemporaryDirectory(prefix="mockidp-enc-") as d:
        paths = {name: os.path.join(d, name) for name in ("plain", "template.xml", "cert.pem")}
        with open(paths["plain"], "w", encoding="utf-8") as f:
            f.write(plaintext)
        with open(paths["template.xml"], "w", encoding="utf-8") as f:
            f.write(template)
        if not cert_is_path:
            with open(paths["cert.pem"], "w", encoding="ascii") as f:
                f.write(cert)
            cert = paths["cert.pem"]
        run = subprocess.run([XMLSEC1, "--encrypt", "--pubkey-cert-pem", cert, "--session-key", session_key,
                              "--binary-data", paths["plain"], paths["template.xml"]],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise HttpError(500, "xmlsec1 --encrypt failed: " + run.stderr)
    encrypted_data = run.stdout.split("?>", 1)[-1].strip()
    return f'<saml:EncryptedElement xmlns:saml="{NS_SAML}">{encrypted_data}</saml:EncryptedElement>'


# --------------------------------------------------------------------------
# The IdP


class MockIdP:
    def __init__(self, args):
        self.entity_id = args.entity_id
        self.metadata = build_metadata(args.entity_id, args.base_url, args.cert, args.slo)
        # Single logout: the IdP's session of each user (lasso session dumps), and every
        # logout message the SP sent, for the tests to inspect (GET /slo-log).
        self.sessions = {}
        self.slo_log = []
        self.users = load_users(args.users)
        self.sp_metadata_url = args.sp_metadata_url
        self.keys = {"idp": (args.key, args.cert)}
        if args.rogue_key and args.rogue_cert:
            self.keys["rogue"] = (args.rogue_key, args.rogue_cert)
        self._sp_metadata = None
        self._servers = {}
        # libxml2/xmlsec state is shared by the lasso objects: one request at
        # a time touches lasso.
        self.lock = threading.Lock()

    # -- SP metadata and lasso servers ------------------------------------

    def sp_metadata(self):
        if self._sp_metadata is None:
            try:
                with urllib.request.urlopen(self.sp_metadata_url, timeout=10) as r:
                    self._sp_metadata = r.read().decode("utf-8")
            except OSError as e:
                raise HttpError(503, f"cannot fetch SP metadata from "
                                     f"{self.sp_metadata_url}: {e}")
        return self._sp_metadata

    def sp_entity_id(self):
        root = ET.fromstring(self.sp_metadata())
        if root.tag == f"{{{NS_MD}}}EntityDescriptor":
            return root.get("entityID")
        entity = root.find(f".//{{{NS_MD}}}EntityDescriptor")
        if entity is None:
            raise HttpError(503, "SP metadata has no EntityDescriptor")
        return entity.get("entityID")

    def server(self, key="idp", sig_alg="sha256"):
        """The lasso.Server signing with `key`, built once per variant."""
        if key not in self.keys:
            raise HttpError(400, "key=rogue needs --rogue-key and --rogue-cert")
        if (key, sig_alg) not in self._servers:
            key_path, cert_path = self.keys[key]
            with open(key_path) as f:
                private_key = f.read()
            with open(cert_path) as f:
                certificate = f.read()
            server = lasso.Server.newFromBuffers(
                self.metadata, private_key, None, certificate)
            server.signatureMethod = SIG_ALGS[sig_alg]
            server.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, self.sp_metadata())
            self._servers[key, sig_alg] = server
        return self._servers[key, sig_alg]

    # -- Single sign-on ---------------------------------------------------

    def user(self, name):
        if name is None:
            raise HttpError(400, "missing user")
        if name not in self.users:
            raise HttpError(400, f"unknown user {name!r}")
        return self.users[name]

    def sso(self, message, signed, user_name, knobs):
        """Answer an AuthnRequest (a redirect query string or a base64 POST
        body).  Returns (acs_url, SAMLResponse)."""
        user = self.user(user_name)
        with self.lock:
            login = lasso.Login(self.server(knobs.key, knobs.sig_alg))
            # A signature, when present, must verify; lasso would otherwise
            # also reject unsigned requests when the SP metadata says
            # AuthnRequestsSigned="true".
            login.setSignatureVerifyHint(
                lasso.PROFILE_SIGNATURE_VERIFY_HINT_FORCE if signed
                else lasso.PROFILE_SIGNATURE_VERIFY_HINT_IGNORE)
            try:
                login.processAuthnRequestMsg(message)
            except lasso.Error as e:
                raise HttpError(400, f"rejected AuthnRequest: {e}")
            return self._respond(login, user, knobs)

    def unsolicited(self, user_name, knobs):
        user = self.user(user_name)
        with self.lock:
            login = lasso.Login(self.server(knobs.key, knobs.sig_alg))
            login.initIdpInitiatedAuthnRequest(self.sp_entity_id())
            login.request.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
            login.processAuthnRequestMsg(None)
            return self._respond(login, user, knobs)

    def _respond(self, login, user, knobs):
        name_id_format = user.get("nameid_format", NAMEID_EMAIL)
        # Answer with the user's own NameID whatever format was asked for;
        # telling lasso the format keeps it from looking for a federation.
        policy = login.request.nameIdPolicy
        if policy is not None:
            policy.format = name_id_format
        if knobs.sign in ("assertion", "none"):
            login.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORBID)
        try:
            login.validateRequestMsg(True, True)
        except lasso.Error as e:
            raise HttpError(400, f"cannot answer AuthnRequest: {e}")
        login.buildAssertion(AUTHN_CONTEXT, saml_time(), None, None, None)

        assertion = login.assertion
        assertion.subject.nameID = name_id(user["nameid"], name_id_format)
        for statement in assertion.authnStatement:
            statement.sessionIndex = statement.sessionIndex or assertion.iD
        attributes = [make_attribute(a["name"], a["values"], a.get("friendly_name"),
                                     a.get("name_format"))
                      for a in user.get("attributes", ())]
        if attributes:
            statement = lasso.Saml2AttributeStatement()
            statement.attribute = tuple(attributes)
            assertion.attributeStatement = (statement,)

        login.buildAuthnResponseMsg()
        apply_knobs(login, knobs)
        if knobs.encrypt and login.response.assertion:
            self.encrypt(login, knobs)
        if login.session is not None:
            self.sessions[user["nameid"]] = login.session.dump()
        return login.msgUrl, login.response.exportToBase64()

    # -- Encrypted assertions ----------------------------------------------

    def sp_encryption_cert(self):
        """The certificate the SP metadata publishes for encryption (PEM)."""
        root = ET.fromstring(self.sp_metadata())
        for kd in root.iter(f"{{{NS_MD}}}KeyDescriptor"):
            if kd.get("use") in (None, "encryption"):
                cert = kd.find(f".//{{{NS_DS}}}X509Certificate")
                if cert is not None:
                    body = "".join(cert.text.split())
                    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(textwrap.wrap(body, 64)) +
                            "\n-----END CERTIFICATE-----\n")
        raise HttpError(503, "the SP metadata publishes no encryption certificate")

    def encrypt(self, login, knobs):
        """Replace the Response's Assertion by an EncryptedAssertion of it (the
        Response is signed afterwards, over the ciphertext)."""
        sym_key_type, data_alg, session_key = ENCRYPTIONS[knobs.encrypt]
        key_method, key_alg = KEY_TRANSPORTS[knobs.key_transport]
        assertion = login.response.assertion[0]
        if sym_key_type is not None and knobs.encrypt_to == "sp" and knobs.encrypted_content == "assertion":
            provider = login.server.getProvider(login.remoteProviderId)
            provider.setEncryptionSymKeyType(sym_key_type)
            provider.setKeyEncryptionMethod(key_method)
            element = provider.saml2NodeEncrypt(assertion).exportToXml()
        else:
            plaintext = assertion.exportToXml()  # signed, when the assertion is
            if knobs.encrypted_content == "two_assertions":
                plaintext += plaintext
            cert = self.keys["rogue"][1] if knobs.encrypt_to == "rogue" else None
            element = xmlsec1_encrypt(plaintext, cert or self.sp_encryption_cert(), data_alg, key_alg,
                                      session_key, cert_is_path=cert is not None)
        if knobs.flags["tamper_ciphertext"]:
            # the last CipherValue is the EncryptedData's: change a character in its third block
            value = [m.end() for m in re.finditer(r"<(?:\w+:)?CipherValue>", element)][-1] + 40
            while element[value].isspace():
                value += 1
            element = element[:value] + ("B" if element[value] == "A" else "A") + element[value + 1:]
        login.response.assertion = ()
        login.response.encryptedAssertion = (lasso.Node.newFromDump(element),)

    # -- Single logout ----------------------------------------------------

    def slo(self, message, binding, signed, params):
        """A logout message from the SP (HTTP-Redirect: the raw query; HTTP-POST: the base64
        field).  A LogoutRequest is answered with Success (knobs: status=URI,
        in_response_to=ID); returns (url, SAMLResponse or None, RelayState).  A LogoutResponse
        (to a request of ours) is logged and answered with a plain page: (None, None, None)."""
        def one(name, default=None):
            values = params.get(name)
            return values[-1] if values else default

        with self.lock:
            logout = lasso.Logout(self.server())
            logout.setSignatureVerifyHint(
                lasso.PROFILE_SIGNATURE_VERIFY_HINT_FORCE if signed
                else lasso.PROFILE_SIGNATURE_VERIFY_HINT_IGNORE)
            if "SAMLResponse" in params:
                try:
                    logout.processResponseMsg(message)
                    error = None
                except lasso.Error as e:
                    error = str(e)
                response = logout.response
                self.slo_log.append({
                    "kind": "response", "binding": binding, "signed": signed, "error": error,
                    "in_response_to": response.inResponseTo if response else None,
                    "status": (response.status.statusCode.value
                               if response and response.status else None),
                    "second_status": (response.status.statusCode.statusCode.value
                                      if response and response.status
                                      and response.status.statusCode.statusCode else None),
                    "destination": response.destination if response else None,
                })
                return None, None, None
            try:
                logout.processRequestMsg(message)
            except lasso.Error as e:
                raise HttpError(400, f"rejected LogoutRequest: {e}")
            request = logout.request
            self.slo_log.append({
                "kind": "request", "binding": binding, "signed": signed,
                "id": request.iD, "name_id": request.nameId.content,
                "name_id_format": request.nameId.format,
                "name_qualifier": request.nameId.nameQualifier,
                "sp_name_qualifier": request.nameId.spNameQualifier,
                "session_index": request.sessionIndex,
                "destination": request.destination,
                "issuer": request.issuer.content if request.issuer else None,
            })
            try:
                logout.validateRequest()
            except lasso.Error:
                pass  # the IdP's session is not restored here: lasso cannot find the one to end
            logout.response.status.statusCode.value = one("status", lasso.SAML2_STATUS_CODE_SUCCESS)
            logout.response.status.statusCode.statusCode = None
            if one("in_response_to") is not None:
                logout.response.inResponseTo = one("in_response_to")
            if one("sign") == "none":
                logout.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORBID)
            logout.buildResponseMsg()
            url = logout.msgUrl
            if one("sign") == "none" and url and "?" in url:
                # lasso signs the redirect query whatever the hint: the parameters go
                base, query = url.split("?", 1)
                url = base + "?" + "&".join(p for p in query.split("&")
                                            if not p.startswith(("SigAlg=", "Signature=")))
            return url, logout.msgBody, logout.msgRelayState

    def initiate_logout(self, params):
        """An IdP-initiated LogoutRequest for the session of user=NAME; knobs: binding=redirect|post,
        sign=none, key=rogue, session_index=STR, no_session_index=1, nameid=STR, relay_state=STR.  Returns
        {"url", "SAMLRequest" (POST), "RelayState", "ID"}."""
        def one(name, default=None):
            values = params.get(name)
            return values[-1] if values else default

        user = self.user(one("user"))
        dump = self.sessions.get(user["nameid"])
        if dump is None:
            raise HttpError(400, f"user {one('user')!r} has not signed in at the SP")
        binding = one("binding", "redirect")
        if binding not in SLO_BINDINGS:
            raise HttpError(400, "binding must be redirect or post")
        with self.lock:
            logout = lasso.Logout(self.server(one("key", "idp")))
            if one("sign") == "none":
                logout.setSignatureHint(lasso.PROFILE_SIGNATURE_HINT_FORBID)
            logout.setSessionFromDump(dump)
            method = lasso.HTTP_METHOD_REDIRECT if binding == "redirect" else lasso.HTTP_METHOD_POST
            try:
                logout.initRequest(self.sp_entity_id(), method)
            except lasso.Error as e:
                raise HttpError(400, f"cannot build a LogoutRequest: {e}")
            if one("session_index") is not None:
                logout.request.sessionIndex = one("session_index")
            if one("no_session_index", "0") not in ("", "0"):
                logout.request.sessionIndexes = ()
                logout.request.sessionIndex = None
            if one("nameid") is not None:
                logout.request.nameId = name_id(one("nameid"), logout.request.nameId.format)
            if one("relay_state") is not None:
                logout.msgRelayState = one("relay_state")
            logout.buildRequestMsg()
            return {"url": logout.msgUrl, "SAMLRequest": logout.msgBody,
                    "RelayState": one("relay_state"), "ID": logout.request.iD}


# --------------------------------------------------------------------------
# HTTP


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
{body}
</body></html>
"""


DEMO_TITLE = "Demo IdP – choose a test user"


def demo_intro(idp):
    """What the picker is: a demo identity provider, not a sign-in page to trust."""
    return (f"<h1>{html.escape(DEMO_TITLE)}</h1>\n"
            f'<p class="idp">Demo IdP <code>{html.escape(idp.entity_id)}</code> (nginx-sso test identity provider)</p>\n'
            "<p>This is a demo identity provider for testing. A real IdP would ask for your user name and "
            "password here; this one lets you pick the test user to sign in as.</p>\n")


def user_chooser_page(idp, base_href):
    items = "\n".join(
        f'<li><a href="{html.escape(base_href + "&user=" + urllib.parse.quote(name))}">'
        f"{html.escape(name)}</a> ({html.escape(str(user.get('nameid', '')))})</li>"
        for name, user in idp.users.items())
    return PAGE.format(title=DEMO_TITLE, body=demo_intro(idp) + f"<ul>\n{items}\n</ul>")


def user_chooser_post_page(idp, fields):
    """Chooser for a POSTed AuthnRequest: one form per user re-posts it."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in fields.items())
    forms = "\n".join(
        f'<li><form method="post" action="/sso">{hidden}'
        f'<input type="hidden" name="user" value="{html.escape(name)}">'
        f'<button type="submit">{html.escape(name)}</button></form></li>'
        for name in idp.users)
    return PAGE.format(title=DEMO_TITLE, body=demo_intro(idp) + f"<ul>\n{forms}\n</ul>")


def auto_post_page(acs, saml_response, relay_state):
    relay = ("" if relay_state is None else
             f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">\n')
    body = (f'<form method="post" action="{html.escape(acs)}">\n'
            f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">\n'
            f"{relay}"
            f'<button type="submit">Continue to the service</button>\n</form>\n'
            f"<script>window.addEventListener('load', function () "
            f"{{ document.forms[0].submit(); }});</script>")
    return PAGE.format(title="Mock IdP – signing you in", body=body)


class Handler(BaseHTTPRequestHandler):
    server_version = "mockidp/1"
    idp = None  # set by serve()

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        try:
            if method == "POST":
                params.update(self._form())
            route = {
                ("GET", "/metadata"): self._metadata,
                ("GET", "/users"): self._users,
                ("GET", "/sso"): self._sso_redirect,
                ("POST", "/sso"): self._sso_post,
                ("GET", "/unsolicited"): self._unsolicited,
                ("GET", "/slo"): self._slo,
                ("POST", "/slo"): self._slo_post,
                ("GET", "/slo-log"): self._slo_log,
                ("GET", "/initiate-logout"): self._initiate_logout,
            }.get((method, url.path))
            if route is None:
                raise HttpError(404, f"no {method} {url.path}")
            route(url, params)
        except HttpError as e:
            self._send(e.status, "text/plain; charset=utf-8", str(e) + "\n")
        except Exception as e:
            traceback.print_exc()
            self._send(500, "text/plain; charset=utf-8", f"internal error: {e!r}\n")

    def _form(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        return urllib.parse.parse_qs(body, keep_blank_values=True)

    def _send(self, status, content_type, body, headers=()):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_json(self, value):
        self._send(200, "application/json", json.dumps(value, ensure_ascii=False) + "\n")

    def _metadata(self, url, params):
        self._send(200, "application/samlmetadata+xml", self.idp.metadata)

    def _users(self, url, params):
        self._send_json(list(self.idp.users))

    def _sso_redirect(self, url, params):
        if "SAMLRequest" not in params:
            raise HttpError(400, "missing SAMLRequest")
        if "user" not in params:
            self._send(200, "text/html; charset=utf-8",
                       user_chooser_page(self.idp, self.path))
            return
        signed = "Signature" in params
        # lasso verifies the signature over the raw query string.
        acs, response = self.idp.sso(url.query, signed, params["user"][-1], Knobs(params))
        self._answer(acs, response, params.get("RelayState", [None])[-1], params)

    def _sso_post(self, url, params):
        if "SAMLRequest" not in params:
            raise HttpError(400, "missing SAMLRequest")
        saml_request = params["SAMLRequest"][-1]
        if "user" not in params:
            fields = {k: v[-1] for k, v in params.items()}
            self._send(200, "text/html; charset=utf-8",
                       user_chooser_post_page(self.idp, fields))
            return
        acs, response = self.idp.sso(saml_request, has_xml_signature(saml_request),
                                     params["user"][-1], Knobs(params))
        self._answer(acs, response, params.get("RelayState", [None])[-1], params)

    def _unsolicited(self, url, params):
        acs, response = self.idp.unsolicited(params.get("user", [None])[-1], Knobs(params))
        self._answer(acs, response, params.get("relay_state", [None])[-1], params)

    def _slo(self, url, params):
        field = "SAMLRequest" if "SAMLRequest" in params else "SAMLResponse"
        if field not in params:
            raise HttpError(400, "missing SAMLRequest or SAMLResponse")
        # lasso verifies a redirect signature over the raw query string.
        location, _, _ = self.idp.slo(url.query, "redirect", "Signature" in params, params)
        if location is None:
            self._send(200, "text/plain; charset=utf-8", "logout response received\n")
            return
        self._send(302, "text/plain; charset=utf-8", location + "\n",
                   headers=[("Location", location)])

    def _slo_post(self, url, params):
        field = "SAMLRequest" if "SAMLRequest" in params else "SAMLResponse"
        if field not in params:
            raise HttpError(400, "missing SAMLRequest or SAMLResponse")
        message = params[field][-1]
        location, body, relay = self.idp.slo(message, "post", has_xml_signature(message), params)
        if location is None:
            self._send(200, "text/plain; charset=utf-8", "logout response received\n")
        elif body is None:  # the SP's SLO endpoint takes the Redirect binding only
            self._send(302, "text/plain; charset=utf-8", location + "\n",
                       headers=[("Location", location)])
        elif params.get("format", [""])[-1] == "json":
            self._send_json({"url": location, "SAMLResponse": body, "RelayState": relay})
        else:
            self._send(200, "text/html; charset=utf-8", auto_post_page(location, body, relay))

    def _slo_log(self, url, params):
        self._send_json(self.idp.slo_log)

    def _initiate_logout(self, url, params):
        self._send_json(self.idp.initiate_logout(params))

    def _answer(self, acs, saml_response, relay_state, params):
        if params.get("format", [""])[-1] == "json":
            self._send_json({"acs": acs, "SAMLResponse": saml_response,
                             "RelayState": relay_state})
        else:
            self._send(200, "text/html; charset=utf-8",
                       auto_post_page(acs, saml_response, relay_state))


# --------------------------------------------------------------------------
# Command line


def parse_listen(value):
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host.strip("[]"), int(port)


def serve_http(handler_class, listen):
    """Serve until SIGTERM/SIGINT; prints READY <port> once listening."""
    httpd = ThreadingHTTPServer(listen, handler_class)
    httpd.daemon_threads = True

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    metadata = commands.add_parser("metadata", help="print the IdP metadata")
    serve = commands.add_parser("serve", help="run the IdP")
    for p in (metadata, serve):
        p.add_argument("--slo", type=slo_bindings, default=[],
                       help="SingleLogoutService bindings to publish: redirect,post (default none)")
        p.add_argument("--entity-id", required=True)
        p.add_argument("--base-url", required=True)
        p.add_argument("--cert", required=True)
    serve.add_argument("--listen", required=True, type=parse_listen)
    serve.add_argument("--key", required=True)
    serve.add_argument("--users", required=True)
    serve.add_argument("--sp-metadata-url", required=True)
    serve.add_argument("--rogue-key")
    serve.add_argument("--rogue-cert")
    args = parser.parse_args(argv)

    if args.command == "metadata":
        sys.stdout.write(build_metadata(args.entity_id, args.base_url, args.cert, args.slo))
        return
    if bool(args.rogue_key) != bool(args.rogue_cert):
        parser.error("--rogue-key and --rogue-cert go together")
    Handler.idp = MockIdP(args)
    serve_http(Handler, args.listen)


if __name__ == "__main__":
    main()
