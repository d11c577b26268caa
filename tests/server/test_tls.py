"""TLS (wss://): a self-signed certificate made here, trusted by the client."""
import json
import os
import ssl
import subprocess
import urllib.request

import vstest
from vstest import Server, connect, hello, push, subject


def make_cert(env):
    cert = os.path.join(env.dir, "cert.pem")
    key = os.path.join(env.dir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-days", "1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.create_default_context(cafile=cert)
    return cert, key, ctx


async def test_wss_with_a_self_signed_certificate(env):
    env.standard()
    cert, key, ctx = make_cert(env)
    # TLS lifts the loopback rule: 0.0.0.0 needs no --insecure.
    srv = Server(env, "--tls-cert", cert, "--tls-key", key, listen="0.0.0.0:0")
    try:
        url = "wss://127.0.0.1:%d/sync" % srv.port
        ws = await connect(url, ssl=ctx, server_hostname="localhost")
        await hello(ws, env, "tabA")
        ack = await push(ws, "t1", [subject(1, "s1", "g01")])
        assert ack["results"][0]["status"] == "applied", ack
        await ws.close()
        with urllib.request.urlopen("https://127.0.0.1:%d/healthz" % srv.port, context=ctx,
                                    timeout=5) as r:
            assert r.status == 200 and json.loads(r.read()) == {"status": "ok"}
        # Plain ws:// to a TLS port does not get a session.
        try:
            plain = await connect("ws://127.0.0.1:%d/sync" % srv.port, open_timeout=3)
        except Exception:
            plain = None
        assert plain is None, "a plain connection was accepted on the TLS port"
        rc, took = srv.stop()
        assert rc == 0 and took < 5, (rc, took)
    finally:
        srv.kill()


def test_tls_needs_both_files(env):
    cert, key, _ = make_cert(env)
    for args in (["--tls-cert", cert], ["--tls-key", key],
                 ["--tls-cert", cert, "--tls-key", os.path.join(env.dir, "missing.pem")]):
        p = subprocess.run([vstest.BIN, "--db", env.db, "serve", "--listen", "127.0.0.1:0"] + args,
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and p.stdout == "", (args, p.returncode, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
