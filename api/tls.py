"""TLS for the API: a self-signed pair for a LAN deployment, certificate fingerprints, and the client's trust.

The server side is uvicorn's (`strongroom serve --tls-cert --tls-key`). A client verifies the server in one
of three ways, and never turns verification off:

- the system's trust store (the default: a certificate from a public or company CA that the machine trusts);
- a CA file (`STRONGROOM_API_CA_FILE`): the certificates that may sign the server's, e.g. the self-signed
  certificate itself;
- a pinned SHA-256 fingerprint (`STRONGROOM_API_FINGERPRINT`, what `strongroom tls self-signed` prints): the
  client fetches the server's certificate, refuses it unless its fingerprint is the pinned one, and then
  trusts exactly that certificate for the connection (chain and host name are still checked by OpenSSL).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from pathlib import Path


class UntrustedServer(Exception):
    """The server's certificate is not the one this client was told to trust; the message says what to do."""


def fingerprint(cert: bytes | str) -> str:
    """The SHA-256 fingerprint of a certificate (PEM text or DER bytes), as `openssl x509 -fingerprint`
    prints it: upper-case hex pairs joined by colons."""
    der = ssl.PEM_cert_to_DER_cert(cert) if isinstance(cert, str) else cert
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def normalise_fingerprint(value: str) -> str:
    """Accept a fingerprint with or without colons, any case, with or without a `sha256:` prefix."""
    raw = value.strip().lower().removeprefix("sha256:").removeprefix("sha256=").replace(":", "").replace(" ", "")
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        raise ValueError("a SHA-256 fingerprint is 64 hex digits (colons allowed)")
    return ":".join(raw[i:i + 2] for i in range(0, 64, 2)).upper()


def self_signed(hosts: list[str], days: int = 825) -> tuple[str, str]:
    """A new self-signed certificate and its private key (PEM) for `hosts` (names and IP addresses), always
    including localhost and 127.0.0.1 so the machine that serves can also reach itself."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names: list[x509.GeneralName] = []
    for host in dict.fromkeys([*hosts, "localhost", "127.0.0.1"]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "localhost"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Strongroom")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        # A CA for itself only, so that it can be the one certificate a client's CA file holds.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return cert_pem, key_pem


def write_pair(folder: Path, hosts: list[str], days: int = 825) -> tuple[Path, Path, str]:
    """Write `cert.pem` (0644) and `key.pem` (0600) into `folder`; return their paths and the fingerprint."""
    cert_pem, key_pem = self_signed(hosts, days)
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    key_file.touch(mode=0o600, exist_ok=True)
    key_file.chmod(0o600)
    key_file.write_text(key_pem)
    cert_file.write_text(cert_pem)
    return cert_file, key_file, fingerprint(cert_pem)


def client_context(host: str, port: int, ca_file: Path | None = None, pinned: str | None = None,
                   timeout: float = 10.0) -> ssl.SSLContext:
    """The SSL context a client uses for https://host:port: the system store, the CA file, or exactly the
    certificate whose fingerprint is pinned (fetched here and compared before anything is trusted)."""
    if pinned is None:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    want = normalise_fingerprint(pinned)
    try:
        presented = ssl.get_server_certificate((host, port), timeout=timeout)
    except (OSError, ssl.SSLError) as error:
        raise ConnectionError(f"cannot fetch the certificate of {host}:{port}: {error}") from error
    got = fingerprint(presented)
    if got != want:
        raise UntrustedServer(
            f"the server at {host}:{port} presented a certificate with SHA-256 fingerprint {got}, not the pinned "
            f"{want} (STRONGROOM_API_FINGERPRINT): refusing to connect. If the server's certificate was "
            "replaced on purpose, pin the new fingerprint; otherwise something is impersonating the server"
        )
    return ssl.create_default_context(cadata=presented)


def describe_refusal(error: BaseException, url: str) -> str | None:
    """A sentence for a TLS verification failure somewhere in `error`'s causes, or None if it is not one."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            reason = seen.verify_message or str(seen)
            return (f"The server at {url} presented a certificate this client does not trust ({reason}). "
                    "Give the client the CA that signed it (STRONGROOM_API_CA_FILE) or pin its fingerprint "
                    "(STRONGROOM_API_FINGERPRINT; `strongroom tls fingerprint` prints it on the server).")
        if isinstance(seen, UntrustedServer):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    return None
