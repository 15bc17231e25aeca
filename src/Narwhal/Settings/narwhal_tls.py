"""Gunicorn's TLS settings as .NET's TLS needs them, run inside the interpreter Narwhal
embeds: the user's Python ssl module (its OpenSSL) is the reference for what a cipher
string selects and for what an ssl_context hook's context says. Loaded only when TLS is on.
"""

import json
import os
import ssl


class TlsError(Exception):
    """An ssl_context hook's context that .NET's TLS cannot serve; the message says why."""


def cipher_suites(spec):
    """Gunicorn's --ciphers: the suites an OpenSSL cipher string selects, as IANA numbers
    (the low 16 bits of OpenSSL's ids), comma-separated. TLS 1.3 suites are always listed:
    set_ciphers does not restrict them, in Gunicorn either."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers(spec)
    return ",".join(str(c["id"] & 0xFFFF) for c in context.get_ciphers())


def from_hook(hook, cfg):
    """Gunicorn's ssl_context hook, called as Gunicorn calls it: hook(cfg, factory), the
    factory building the context the settings describe. Python's SSLContext cannot serve
    Narwhal's connections, so what the returned context says is read back, as JSON, for
    .NET's TLS: the certificate chain it loaded, verify_mode, the CA files, the version
    range and the cipher suites."""
    chains, cas = [], []
    base_chain, base_verify = ssl.SSLContext.load_cert_chain, ssl.SSLContext.load_verify_locations
    base_defaults = ssl.SSLContext.load_default_certs

    # Every context the hook builds (the factory's or its own) has its loads recorded.
    def load_cert_chain(self, certfile, keyfile=None, password=None):
        base_chain(self, certfile, keyfile, password)
        chains.append((self, certfile, keyfile, password))

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        base_verify(self, cafile, capath, cadata)
        cas.append((self, cafile, capath, cadata))

    def load_default_certs(self, purpose=ssl.Purpose.SERVER_AUTH):
        base_defaults(self, purpose)
        cas.append((self, None, None, None))

    def default_ssl_context_factory():
        # As Gunicorn's sock.ssl_context builds it.
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=cfg.ca_certs or None)
        context.load_cert_chain(certfile=cfg.certfile, keyfile=cfg.keyfile or None)
        context.verify_mode = cfg.cert_reqs
        if cfg.ciphers:
            context.set_ciphers(cfg.ciphers)
        return context

    ssl.SSLContext.load_cert_chain = load_cert_chain
    ssl.SSLContext.load_verify_locations = load_verify_locations
    ssl.SSLContext.load_default_certs = load_default_certs
    try:
        context = hook(cfg, default_ssl_context_factory)
    finally:
        ssl.SSLContext.load_cert_chain = base_chain
        ssl.SSLContext.load_verify_locations = base_verify
        ssl.SSLContext.load_default_certs = base_defaults
    if not isinstance(context, ssl.SSLContext):
        raise TlsError("the ssl_context hook returned %r, not an ssl.SSLContext" % (context,))
    mine = [c for c in chains if c[0] is context]
    if not mine:
        raise TlsError("the context the ssl_context hook returned has no certificate: call load_cert_chain on it "
                          "(default_ssl_context_factory() does, from certfile and keyfile)")
    _, certfile, keyfile, password = mine[-1]
    if password is not None:
        raise TlsError("the ssl_context hook loads a key with a password; Narwhal reads keys without one")
    cafiles, system = [], False
    for ctx, cafile, capath, cadata in cas:
        if ctx is not context:
            continue
        if capath or cadata:
            raise TlsError("the ssl_context hook loads CA certificates from capath or cadata; Narwhal takes cafile only")
        if cafile:
            cafiles.append(os.fspath(cafile))
        else:
            system = True
    return json.dumps({
        "certfile": os.fspath(certfile), "keyfile": os.fspath(keyfile) if keyfile else "",
        "verify_mode": int(context.verify_mode), "cafiles": cafiles, "system_cas": system,
        "minimum": context.minimum_version.name, "maximum": context.maximum_version.name,
        "ciphers": [c["id"] & 0xFFFF for c in context.get_ciphers()],
    })
