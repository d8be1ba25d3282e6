#!/usr/bin/python3
"""Interop SAML 2.0 IdP on python3-pysaml2, for testing nginx-sso against an
implementation we did not write.

pysaml2 ships no ready-made IdP, so this wraps saml2.server.Server in a small
http.server app.  Everything SAML is pysaml2's own: its metadata generator,
its request parser and redirect-signature check, its response builder and
signer (xmlsec1).  The configuration is built in code; users and attributes
come from the mock IdP's users.json.

Sub-commands (same flags as t/mockidp/mockidp.py):

  pysaml2_idp.py metadata --entity-id URL --base-url URL --cert CERT.pem
      Print the IdP metadata as pysaml2 generates it (no server needed).

  pysaml2_idp.py serve --listen 127.0.0.1:PORT --entity-id URL --base-url URL
                       --key KEY.pem --cert CERT.pem --users USERS.json
                       --sp-metadata-url URL [--rogue-key K --rogue-cert C]
      Serve the IdP.  Prints "READY <port>" once listening; exits on SIGTERM.
      The SP metadata is fetched on the first request that needs it and then
      cached.  --rogue-key/--rogue-cert are accepted and ignored (no knobs).

Endpoints:
  GET  /metadata   the IdP metadata
  GET  /users      JSON list of user names
  GET  /sso        HTTP-Redirect AuthnRequest; POST /sso: HTTP-POST one.
                   Needs user=NAME (400 otherwise, or for an unknown user).
                   Answers an auto-submitting HTML form posting SAMLResponse
                   and RelayState to the ACS, or with format=json
                   {"acs", "SAMLResponse", "RelayState"}.
  GET  /slo        HTTP-Redirect LogoutRequest: answers Success, redirecting
                   the LogoutResponse to the SP's SingleLogoutService, when
                   its NameID is exactly the one of the user's latest assertion
                   (value, Format, NameQualifier, SPNameQualifier: SAML core
                   3.7.1);
                   otherwise Responder/UnknownPrincipal.  Knob unsigned=1:
                   the LogoutResponse is not signed (as some IdPs do).

Knobs (query parameters of /sso):
  qualified=1      the NameID carries NameQualifier (this IdP) and
                   SPNameQualifier (the SP), as pysaml2's persistent
                   NameIDs do
  encrypt=aes128-cbc|aes256-cbc|aes128-gcm|aes256-gcm|pysaml2-default
                   encrypt the assertion (create_authn_response with
                   encrypt_assertion=True) to the SP metadata's encryption
                   certificate, RSA-OAEP key transport.  pysaml2 7.0.1
                   hard-codes 3DES-CBC for this (Entity._encrypt_assertion
                   calls pre_encryption_part() with its defaults and xmlsec1
                   with --session-key des-192): "pysaml2-default" keeps that;
                   the others pass the algorithm to pysaml2's own
                   pre_encryption_part(msg_enc=...) and encrypt_assertion(
                   key_type=...), as a deployment would have to.

pysaml2 behaviour worth knowing when a test fails:
  * A redirect-binding signature is checked by saml2.sigver.
    verify_redirect_signature(), which rebuilds the signed string by
    re-encoding the decoded parameters with urllib.parse.urlencode
    (quote_plus: space as "+", upper-case %XX).  An SP that encodes the query
    differently gets a 400 here even though its signature is right over the
    bytes it sent (lasso, and the SAML bindings spec, use the raw bytes).
  * The response is signed twice (Assertion, then Response) with RSA-SHA256 /
    SHA-256, and the NameID is the user's "nameid" (emailAddress format).
  * pysaml2's release policy applies: if the SP metadata lists
    RequestedAttribute elements, only those attributes are released.
"""

import argparse
import base64
import html
import json
import signal
import sys
import threading
import traceback
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import saml2.samlp
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.attribute_converter import AttributeConverter
from saml2.authn_context import PASSWORDPROTECTEDTRANSPORT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.sigver import (extract_rsa_key_from_x509_cert, get_pem_wrapped_unwrapped, make_temp, pem_format,
                          pre_encryption_part, verify_redirect_signature)
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

XMLSEC1 = "/usr/bin/xmlsec1"
XMLENC = "http://www.w3.org/2001/04/xmlenc#"
XMLENC11 = "http://www.w3.org/2009/xmlenc11#"
# encrypt=NAME: (EncryptionMethod URI, xmlsec1 --session-key); None: pysaml2's own (3DES-CBC)
ENCRYPTIONS = {
    "aes128-cbc": (XMLENC + "aes128-cbc", "aes-128"),
    "aes256-cbc": (XMLENC + "aes256-cbc", "aes-256"),
    "aes128-gcm": (XMLENC11 + "aes128-gcm", "aes-128"),
    "aes256-gcm": (XMLENC11 + "aes256-gcm", "aes-256"),
    "pysaml2-default": None,
}


class EncryptingServer(Server):
    """saml2.server.Server whose encrypted assertions use `self.encryption`
    (see ENCRYPTIONS); everything else is pysaml2's own."""

    encryption = None

    def _encrypt_assertion(self, encrypt_cert, sp_entity_id, response, node_xpath=None):
        if self.encryption is None:
            return super()._encrypt_assertion(encrypt_cert, sp_entity_id, response, node_xpath)
        msg_enc, key_type = self.encryption
        certs = [encrypt_cert] if encrypt_cert else self.metadata.certs(sp_entity_id, "any", "encryption")
        if not certs:
            raise HttpError(400, "the SP metadata publishes no encryption certificate")
        wrapped, unwrapped = get_pem_wrapped_unwrapped(certs[0])
        cert_file = make_temp(wrapped.encode("ascii"), decode=False,
                              delete_tmpfiles=self.config.delete_tmpfiles)
        return self.sec.encrypt_assertion(response, cert_file.name,
                                          pre_encryption_part(msg_enc=msg_enc, encrypt_cert=unwrapped),
                                          key_type=key_type, node_xpath=node_xpath)


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def idp_config(entity_id, base_url, cert, key=None, sp_metadata=None):
    """The pysaml2 configuration dictionary of this IdP."""
    base_url = base_url.rstrip("/")
    config = {
        "entityid": entity_id,
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (base_url + "/sso", BINDING_HTTP_REDIRECT),
                        (base_url + "/sso", BINDING_HTTP_POST),
                    ],
                    "single_logout_service": [
                        (base_url + "/slo", BINDING_HTTP_REDIRECT),
                    ],
                },
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "want_authn_requests_signed": False,
                "sign_response": True,
                "sign_assertion": True,
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "name_form": NAME_FORMAT_URI,
                    },
                },
            },
        },
        "cert_file": cert,
        "xmlsec_binary": XMLSEC1,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
    }
    if key:
        config["key_file"] = key
    if sp_metadata:
        config["metadata"] = {"inline": [sp_metadata]}
    return config


def metadata_xml(entity_id, base_url, cert):
    config = IdPConfig().load(idp_config(entity_id, base_url, cert))
    return str(entity_descriptor(config)) + "\n"


def load_users(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def users_converter(users):
    """An attribute converter mapping users.json FriendlyNames to Names, so
    the assertion carries the same Names as the mock IdP's (attributes
    without a FriendlyName are sent under their Name as it is)."""
    to_names = {}
    for user in users.values():
        for attribute in user.get("attributes", ()):
            if attribute.get("friendly_name"):
                to_names[attribute["friendly_name"]] = attribute["name"]
    converter = AttributeConverter()
    converter.from_dict({"identifier": NAME_FORMAT_URI, "to": to_names})
    converter.adjust()
    return converter


def name_id_key(name_id):
    """What a strict IdP compares to find the session a LogoutRequest names."""
    if name_id is None:
        return None
    return (name_id.text, name_id.format, name_id.name_qualifier, name_id.sp_name_qualifier)


def identity(user):
    """pysaml2's 'ava': local attribute name -> list of values."""
    return {a.get("friendly_name") or a["name"]: list(a["values"])
            for a in user.get("attributes", ())}


def raw_signature_ok(server, cert, raw_query, fields):
    """Check a redirect-binding signature the way the SAML bindings spec says,
    over the parameters exactly as sent.  Only used to explain a failure of
    pysaml2's own check."""
    raw = {}
    for part in raw_query.split("&"):
        name, _, value = part.partition("=")
        raw.setdefault(name, value)
    first = "SAMLRequest" if "SAMLRequest" in raw else "SAMLResponse"
    signed = "&".join(f"{name}={raw[name]}" for name in (first, "RelayState", "SigAlg")
                      if name in raw)
    try:
        signer = server.sec.sec_backend.get_signer(fields["SigAlg"])
        key = extract_rsa_key_from_x509_cert(pem_format(cert))
        return bool(signer.verify(signed.encode("ascii"),
                                  base64.b64decode(fields["Signature"]), key))
    except Exception:
        return False


class Pysaml2IdP:
    def __init__(self, args):
        self.args = args
        self.metadata = metadata_xml(args.entity_id, args.base_url, args.cert)
        self.users = load_users(args.users)
        self._server = None
        self.lock = threading.Lock()
        # the NameID of each user's latest assertion: (text, format, qualifier, SP qualifier)
        self.issued = {}

    def server(self):
        """saml2.server.Server, created once the SP metadata is known."""
        if self._server is None:
            url = self.args.sp_metadata_url
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    sp_metadata = r.read().decode("utf-8")
            except OSError as e:
                raise HttpError(503, f"cannot fetch SP metadata from {url}: {e}")
            config = IdPConfig().load(idp_config(
                self.args.entity_id, self.args.base_url, self.args.cert,
                self.args.key, sp_metadata))
            server = EncryptingServer(config=config)
            server.config.attribute_converters.insert(0, users_converter(self.users))
            self._server = server
        return self._server

    def user(self, name):
        if name is None:
            raise HttpError(400, "missing user")
        if name not in self.users:
            raise HttpError(400, f"unknown user {name!r}")
        return self.users[name]

    def sso(self, binding, fields, raw_query, user_name, encrypt=None, qualified=False):
        """fields: the SAMLRequest/RelayState/SigAlg/Signature strings;
        raw_query: the query string as received (for diagnostics);
        encrypt: a key of ENCRYPTIONS, or None for a plaintext assertion.
        Returns (acs_url, base64 SAMLResponse)."""
        user = self.user(user_name)
        if encrypt is not None and encrypt not in ENCRYPTIONS:
            raise HttpError(400, f"encrypt must be one of {', '.join(ENCRYPTIONS)}")
        with self.lock:
            server = self.server()
            server.encryption = ENCRYPTIONS.get(encrypt)
            request = self.parse_request(server, binding, fields, raw_query)
            args = server.response_args(request.message, [BINDING_HTTP_POST])
            name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["nameid"])
            if qualified:
                name_id.name_qualifier = self.args.entity_id
                name_id.sp_name_qualifier = args["sp_entity_id"]
            self.issued[name_id.text] = name_id_key(name_id)
            response = server.create_authn_response(
                identity(user),
                name_id=name_id,
                authn={"class_ref": PASSWORDPROTECTEDTRANSPORT,
                       "authn_auth": self.args.entity_id},
                sign_assertion=True,
                sign_response=True,
                sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
                in_response_to=args["in_response_to"],
                destination=args["destination"],
                sp_entity_id=args["sp_entity_id"],
                name_id_policy=args["name_id_policy"],
                encrypt_assertion=encrypt is not None,
            )
            encoded = base64.b64encode(str(response).encode("utf-8")).decode("ascii")
            return args["destination"], encoded

    def parse_request(self, server, binding, fields, raw_query):
        try:
            request = server.parse_authn_request(fields["SAMLRequest"], binding)
        except Exception as e:  # pysaml2 raises many unrelated exception types
            raise HttpError(400, f"rejected AuthnRequest: {e!r}")
        if request is None:
            raise HttpError(400, "rejected AuthnRequest")
        if binding == BINDING_HTTP_REDIRECT and "Signature" in fields:
            self.verify_redirect(server, request.message.issuer.text, fields, raw_query)
        return request

    def verify_redirect(self, server, issuer, fields, raw_query):
        certs = server.metadata.certs(issuer, "spsso", "signing")
        for cert in certs:
            try:
                if verify_redirect_signature(fields, server.sec.sec_backend, cert):
                    return
            except Exception as e:  # unsupported SigAlg and the like
                raise HttpError(400, f"cannot verify the request signature: {e!r}")
        if any(raw_signature_ok(server, cert, raw_query, fields) for cert in certs):
            raise HttpError(400, "the signature is valid over the query as sent, but "
                                 "pysaml2 verifies over the parameters re-encoded with "
                                 "urllib.parse.urlencode, and the SP's encoding differs")
        raise HttpError(400, "the request signature does not verify")

    def slo(self, fields, raw_query, unsigned=False):
        """Answer a redirect LogoutRequest with Success (UnknownPrincipal for a
        NameID not issued exactly so); returns the URL of the LogoutResponse."""
        with self.lock:
            server = self.server()
            try:
                request = server.parse_logout_request(fields["SAMLRequest"],
                                                      BINDING_HTTP_REDIRECT)
            except Exception as e:
                raise HttpError(400, f"rejected LogoutRequest: {e!r}")
            if "Signature" in fields:
                self.verify_redirect(server, request.message.issuer.text, fields,
                                     raw_query)
            status = None
            name_id = request.message.name_id
            if name_id is None or self.issued.get(name_id.text) != name_id_key(name_id):
                status = saml2.samlp.Status(status_code=saml2.samlp.StatusCode(
                    value=saml2.samlp.STATUS_RESPONDER,
                    status_code=saml2.samlp.StatusCode(value=saml2.samlp.STATUS_UNKNOWN_PRINCIPAL)))
            response = server.create_logout_response(
                request.message, [BINDING_HTTP_REDIRECT], status=status, sign=False)
            destination = server.response_args(
                request.message, [BINDING_HTTP_REDIRECT])["destination"]
            http_args = server.apply_binding(
                BINDING_HTTP_REDIRECT, str(response), destination,
                fields.get("RelayState"), response=True, sign=not unsigned,
                sigalg=None if unsigned else SIG_RSA_SHA256)
            return dict(http_args["headers"])["Location"]


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body>
{body}
</body></html>
"""


def auto_post_page(acs, saml_response, relay_state):
    relay = ("" if relay_state is None else
             f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">\n')
    body = (f'<form method="post" action="{html.escape(acs)}">\n'
            f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">\n'
            f"{relay}"
            f'<button type="submit">Continue to the service</button>\n</form>\n'
            f"<script>window.addEventListener('load', function () "
            f"{{ document.forms[0].submit(); }});</script>")
    return PAGE.format(title="pysaml2 IdP – signing you in", body=body)


class Handler(BaseHTTPRequestHandler):
    server_version = "pysaml2-idp/1"
    idp = None  # set by main()

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method):
        url = urllib.parse.urlsplit(self.path)
        params = {k: v[-1] for k, v in
                  urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if method == "POST":
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                params.update({k: v[-1] for k, v in
                               urllib.parse.parse_qs(body, keep_blank_values=True).items()})
            if (method, url.path) == ("GET", "/metadata"):
                self._send(200, "application/samlmetadata+xml", self.idp.metadata)
            elif (method, url.path) == ("GET", "/users"):
                self._send(200, "application/json", json.dumps(list(self.idp.users)) + "\n")
            elif url.path == "/sso":
                binding = BINDING_HTTP_REDIRECT if method == "GET" else BINDING_HTTP_POST
                self._sso(binding, params)
            elif (method, url.path) == ("GET", "/slo"):
                self._slo(params)
            else:
                raise HttpError(404, f"no {method} {url.path}")
        except HttpError as e:
            self._send(e.status, "text/plain; charset=utf-8", str(e) + "\n")
        except Exception as e:
            traceback.print_exc()
            self._send(500, "text/plain; charset=utf-8", f"internal error: {e!r}\n")

    def _sso(self, binding, params):
        if "SAMLRequest" not in params:
            raise HttpError(400, "missing SAMLRequest")
        fields = {k: params[k] for k in ("SAMLRequest", "RelayState", "SigAlg", "Signature")
                  if k in params}
        raw_query = urllib.parse.urlsplit(self.path).query
        acs, response = self.idp.sso(binding, fields, raw_query, params.get("user"), params.get("encrypt"),
                                     params.get("qualified") == "1")
        relay_state = params.get("RelayState")
        if params.get("format") == "json":
            self._send(200, "application/json", json.dumps(
                {"acs": acs, "SAMLResponse": response, "RelayState": relay_state}) + "\n")
        else:
            self._send(200, "text/html; charset=utf-8",
                       auto_post_page(acs, response, relay_state))

    def _slo(self, params):
        if "SAMLRequest" not in params:
            raise HttpError(400, "missing SAMLRequest")
        fields = {k: params[k] for k in ("SAMLRequest", "RelayState", "SigAlg", "Signature")
                  if k in params}
        location = self.idp.slo(fields, urllib.parse.urlsplit(self.path).query, params.get("unsigned") == "1")
        self._send(302, "text/plain; charset=utf-8", location + "\n",
                   headers=[("Location", location)])

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
        p.add_argument("--entity-id", required=True)
        p.add_argument("--base-url", required=True)
        p.add_argument("--cert", required=True)
    serve.add_argument("--listen", required=True, type=parse_listen)
    serve.add_argument("--key", required=True)
    serve.add_argument("--users", required=True)
    serve.add_argument("--sp-metadata-url", required=True)
    serve.add_argument("--rogue-key", help="accepted for symmetry; unused")
    serve.add_argument("--rogue-cert", help="accepted for symmetry; unused")
    args = parser.parse_args(argv)

    if args.command == "metadata":
        sys.stdout.write(metadata_xml(args.entity_id, args.base_url, args.cert))
        return
    Handler.idp = Pysaml2IdP(args)
    serve_http(Handler, args.listen)


if __name__ == "__main__":
    main()
