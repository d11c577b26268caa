"""GET /blobs/<sha256> (docs/protocol.md §5, "Photos"): who may fetch a photo (supervisors
by their grids, a cadre's tablets by the cadre's grids; 401 for no, bad or revoked tokens; the
same 404 for a photo that is missing, incomplete or not visible), the headers that keep a
browser from running a photo, ETag, ranges; and /api/status's missing_photos, in total and
per device, before and after the photo a visit names is uploaded."""
import hashlib
import json

from test_api import api, planted_token, request, sql_write, token
from vstest import CHUNK, Server, blob_offer, blob_send, change, photo, push, session

VISITED = "2026-11-28T09:30:00+08:00"


def setup(env):
    """env.standard(), supervisors limited to g01 and to g02; their tokens and the
    unlimited one as {"all", "g01", "g02"}."""
    env.standard()
    env.user("sup1", "supervisor", ["g01"])
    env.user("sup2", "supervisor", ["g02"])
    return {"all": token(env, "sup"), "g01": token(env, "sup1"), "g02": token(env, "sup2")}


async def upload(srv, env, device, data, sha, mime="image/jpeg"):
    ws, _ = await session(srv, env, device)
    try:
        await blob_offer(ws, "o", sha, len(data), mime=mime)
        assert (await blob_send(ws, sha, data, 0, window=4))["complete"]
    finally:
        await ws.close()


def get(srv, sha, tok, **headers):
    return request(srv, "GET", "/blobs/" + sha, token=tok, headers=headers)


def refused(srv, sha, tok, status):
    """Checks that GET /blobs/sha answers status with the JSON error body of its kind."""
    code, h, body = get(srv, sha, tok)
    want = {401: "unauthorized", 404: "not_found"}[status]
    assert (code, json.loads(body)) == (status, {"error": want}), (sha, tok, code, body)
    assert h["content-type"] == "application/json", h


async def test_who_may_fetch_a_photo(env):
    toks = setup(env)
    data, sha = photo(CHUNK + 777)
    part, part_sha = photo(2 * CHUNK)
    srv = Server(env)
    try:
        await upload(srv, env, "tabA", data, sha)  # cadre c1, grid g01
        for tok in (toks["all"], toks["g01"], env.tokens["tabA"], env.tokens["tabB"]):
            status, _, body = get(srv, sha, tok)
            assert status == 200 and body == data, (tok, status)
        refused(srv, sha, toks["g02"], 404)
        refused(srv, sha, env.tokens["tabC"], 404)
        # Incomplete, never offered, not a sha: the same 404.
        ws, _ = await session(srv, env, "tabA")
        await blob_offer(ws, "p", part_sha, len(part))
        await blob_send(ws, part_sha, part, 0, CHUNK)
        await ws.close()
        refused(srv, part_sha, toks["all"], 404)
        refused(srv, hashlib.sha256(b"never").hexdigest(), toks["all"], 404)
        for bad in (sha.upper(), sha[:63], sha + "0", "sha256:" + sha, "x" * 64, ""):
            refused(srv, bad, toks["all"], 404)
        # No token, another scheme, a bad one, revoked ones: 401.
        for tok in (None, "", "not a token", "x" * 43):
            refused(srv, sha, tok, 401)
        status, _, _ = request(srv, "GET", "/blobs/" + sha,
                               headers={"Authorization": "Basic " + toks["all"]})
        assert status == 401, status
        revoked = planted_token(env, "sup")
        assert get(srv, sha, revoked)[0] == 200
        sql_write(env, "UPDATE api_tokens SET revoked = 1 WHERE hash = ?",
                  hashlib.sha256(revoked.encode()).digest())
        refused(srv, sha, revoked, 401)
        env.cli("device", "revoke", "tabB")
        refused(srv, sha, env.tokens["tabB"], 401)
    finally:
        srv.kill()


async def test_headers_etag_and_ranges(env):
    toks = setup(env)
    data, sha = photo(1000)
    html, html_sha = photo(300)
    plain, plain_sha = photo(200)
    srv = Server(env)
    try:
        await upload(srv, env, "tabA", data, sha, mime="image/jpeg")
        await upload(srv, env, "tabA", html, html_sha, mime="text/html")
        await upload(srv, env, "tabA", plain, plain_sha, mime=None)
        sup = toks["all"]
        status, h, body = get(srv, sha, sup)
        assert status == 200 and body == data, status
        want = {"content-type": "image/jpeg", "content-length": "1000",
                "x-content-type-options": "nosniff",
                "content-security-policy": "default-src 'none'; sandbox",
                "cache-control": "private, no-cache",
                "etag": '"%s"' % sha, "accept-ranges": "bytes"}
        assert {k: h.get(k) for k in want} == want, h
        # A mime a browser would run is served as bytes.
        status, h, body = get(srv, html_sha, sup)
        assert status == 200 and body == html, status
        assert h["content-type"] == "application/octet-stream", h
        assert h["x-content-type-options"] == "nosniff", h
        status, h, body = get(srv, plain_sha, sup)  # offered without a mime
        assert status == 200 and body == plain, status
        assert h["content-type"] == "application/octet-stream", h
        # ETag.
        status, h, body = get(srv, sha, sup, **{"If-None-Match": '"%s"' % sha})
        assert status == 304 and body == b"", (status, body[:50])
        status, _, body = get(srv, sha, sup, **{"If-None-Match": '"%s"' % html_sha})
        assert status == 200 and body == data, status
        # Ranges.
        for rng, lo, hi in (("bytes=0-99", 0, 99), ("bytes=100-", 100, 999),
                            ("bytes=-50", 950, 999), ("bytes=990-5000", 990, 999)):
            status, h, body = get(srv, sha, sup, Range=rng)
            assert status == 206, (rng, status)
            assert body == data[lo:hi + 1], (rng, len(body))
            assert h["content-range"] == "bytes %d-%d/1000" % (lo, hi), (rng, h)
            assert h["content-length"] == str(hi - lo + 1), (rng, h)
            assert h["content-type"] == "image/jpeg", (rng, h)
        for rng in ("bytes=1000-", "bytes=5000-6000"):
            status, h, _ = get(srv, sha, sup, Range=rng)
            assert status == 416 and h["content-range"] == "bytes */1000", (rng, status, h)
        status, h, body = get(srv, sha, sup, Range="bytes=0-1,5-6")
        assert status == 200 and body == data, (status, h)
        # A range asked by someone who may not see the photo tells nothing either.
        status, _, body = get(srv, sha, toks["g02"], Range="bytes=0-0")
        assert (status, json.loads(body)) == (404, {"error": "not_found"}), status
    finally:
        srv.kill()


def missing(srv, tok):
    """(missing_photos, {device: missing_photos}) of /api/status."""
    status, body = api(srv, "/api/status", tok)
    assert status == 200, body
    return body["missing_photos"], {d["device"]: d["missing_photos"] for d in body["devices"]}


async def test_missing_photos_until_uploaded(env):
    toks = setup(env)
    data, sha = photo(CHUNK + 10)
    srv = Server(env)
    try:
        ws, _ = await session(srv, env, "tabA")
        ack = await push(ws, "v", [
            change(1, "subjects", "s-1", 0, {"name": "Subject 1", "grid": "g01"}),
            change(2, "visits", "v-1", 0, {"subject": "s-1", "grid": "g01",
                                           "visited_at": VISITED,
                                           "photos": ["sha256:" + sha]})])
        assert [r["status"] for r in ack["results"]] == ["applied"] * 2, ack
        total, per = missing(srv, toks["all"])
        assert total == 1 and per["tabA"] == 1 and per["tabB"] == 0, (total, per)
        total, per = missing(srv, toks["g02"])
        assert total == 0 and "tabA" not in per, (total, per)
        await blob_offer(ws, "o", sha, len(data))
        await blob_send(ws, sha, data, 0, CHUNK)
        assert missing(srv, toks["all"])[0] == 1  # not whole yet
        assert (await blob_send(ws, sha, data, CHUNK))["complete"]
        total, per = missing(srv, toks["all"])
        assert total == 0 and per["tabA"] == 0, (total, per)
        await ws.close()
    finally:
        srv.kill()
