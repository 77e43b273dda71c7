import threading, time
from concurrent.futures import ThreadPoolExecutor
from azof.storage import open_storage

def test_evidence(s3_lake, s3_storage_options):
    n, rounds = 16, 15
    stores = [open_storage(s3_lake, s3_storage_options) for _ in range(n)]
    for s in stores: s.exists("w")
    wins = []
    worst = 0.0
    for rnd in range(rounds):
        b = threading.Barrier(n)
        def go(i):
            b.wait()
            t = time.monotonic()
            r = stores[i].write_if_absent(f"k{rnd}", f"w{i}".encode())
            return r, time.monotonic() - t
        with ThreadPoolExecutor(n) as p:
            res = list(p.map(go, range(n)))
        w = [i for i, (r, _) in enumerate(res) if r]
        assert stores[0].read(f"k{rnd}") == f"w{w[0]}".encode()
        wins.append(len(w)); worst = max(worst, max(t for _, t in res))
    print("\nwinners per round:", wins, "slowest call %.1fs" % worst)
    assert wins == [1] * rounds
