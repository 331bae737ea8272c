import time
def test_dbg(client):
    for path in ["/livez", "/readyz", "/metrics", "/docs.json"]:
        t = time.time()
        r = client.get(path, timeout=20)
        print(path, r.status_code, round(time.time() - t, 2), r.text[:300])
