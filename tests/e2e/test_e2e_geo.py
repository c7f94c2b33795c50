"""Nearby stores, the seeds' geo pattern (../shared/USERS.md): a chain loads its stores with
GEOADD (redis-py's values list), a customer asks for the stores within a radius, nearest first,
with distance and coordinates (GEOSEARCH), the distance to one store (GEODIST), a store's
position (GEOPOS), and a delivery zone saved for later (GEOSEARCHSTORE) and read back as the
sorted set it is. Stores are checked against our own haversine model. Sync and asyncio, with
redis-py's default protocol, protocol=2 and protocol=3."""
import asyncio
import math
import random

import pytest

from e2e_helpers import client

KEY = "stores:paris"
EARTH_RADIUS_M = 6372797.560856
CENTRE = (2.3522, 48.8566)


@pytest.fixture(params=[None, 2, 3], ids=["default", "resp2", "resp3"])
def protocol(request):
    """conftest's `protocol`, with redis-py's own default (None, RESP3 on the wire) as well."""
    return request.param


def haversine_m(lon1, lat1, lon2, lat2):
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def make_stores(n=300, seed=11):
    rng = random.Random(seed)
    return {f"store:{i}": (CENTRE[0] + rng.uniform(-0.2, 0.2), CENTRE[1] + rng.uniform(-0.15, 0.15))
            for i in range(n)}


def geoadd_values(stores):
    values = []
    for name, (lon, lat) in stores.items():
        values += [lon, lat, name]
    return values


def nearby_model(stores, lon, lat, radius_km):
    found = [(haversine_m(lon, lat, slon, slat) / 1000, name) for name, (slon, slat) in stores.items()]
    return sorted((d, n) for d, n in found if d <= radius_km)


def check_nearby(result, stores, lon, lat, radius_km, count):
    """GEOSEARCH ... WITHDIST WITHCOORD ASC COUNT: [name, dist, (lon, lat)] nearest first."""
    model = nearby_model(stores, lon, lat, radius_km)
    # Members near the radius may fall either side through the 52-bit rounding: compare the
    # inner ones, which must all be there, nearest first.
    inner = [n for d, n in model if d < radius_km - 0.01][:count]
    names = [row[0] for row in result]
    assert names[:len(inner)] == inner
    assert len(result) == min(count, len(model)) or len(result) == min(count, len(inner) + 1)
    dists = [row[1] for row in result]
    assert dists == sorted(dists)
    for name, dist, (slon, slat) in result:
        assert isinstance(dist, float)
        assert abs(slon - stores[name][0]) < 1e-5 and abs(slat - stores[name][1]) < 1e-5
        assert abs(dist - haversine_m(lon, lat, *stores[name]) / 1000) < 0.001
        assert dist <= radius_km


def test_nearby_stores(r):
    stores = make_stores()
    assert r.geoadd(KEY, geoadd_values(stores)) == len(stores)
    assert r.geoadd(KEY, geoadd_values(stores)) == 0
    assert r.type(KEY) == "zset" and r.zcard(KEY) == len(stores)
    rng = random.Random(3)
    for _ in range(20):
        lon, lat = CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.1, 0.1)
        radius = rng.choice([0.5, 2, 5, 10])
        res = r.geosearch(KEY, longitude=lon, latitude=lat, radius=radius, unit="km",
                          withdist=True, withcoord=True, sort="ASC", count=10)
        check_nearby(res, stores, lon, lat, radius, 10)
    plain = r.geosearch(KEY, member="store:0", radius=3, unit="km")
    assert "store:0" in plain and all(isinstance(m, str) for m in plain)
    assert r.geosearch(KEY, longitude=0, latitude=0, radius=1, unit="km") == []
    box = r.geosearch(KEY, longitude=CENTRE[0], latitude=CENTRE[1], width=4, height=2, unit="km", sort="DESC")
    for name in box:
        lon, lat = stores[name]
        assert haversine_m(CENTRE[0], lat, lon, lat) <= 2000.5
        assert haversine_m(CENTRE[0], CENTRE[1], CENTRE[0], lat) <= 1000.5

    d = r.geodist(KEY, "store:1", "store:2", unit="km")
    assert abs(d - haversine_m(*stores["store:1"], *stores["store:2"]) / 1000) < 0.001
    assert r.geodist(KEY, "store:1", "nosuch") is None
    pos = r.geopos(KEY, "store:5", "nosuch")
    assert pos[1] is None
    assert abs(pos[0][0] - stores["store:5"][0]) < 1e-5 and abs(pos[0][1] - stores["store:5"][1]) < 1e-5
    assert all(len(h) == 11 for h in r.geohash(KEY, "store:5", "store:6"))

    zone = "zone:courier:7"
    n = r.geosearchstore(zone, KEY, longitude=CENTRE[0], latitude=CENTRE[1], radius=3, unit="km", storedist=True)
    model = nearby_model(stores, CENTRE[0], CENTRE[1], 3)
    assert abs(n - len(model)) <= 1 and r.zcard(zone) == n
    nearest = r.zrange(zone, 0, 2, withscores=True)
    assert [m for m, _ in nearest] == [m for _, m in model[:3]]
    assert all(abs(km - haversine_m(*CENTRE, *stores[m]) / 1000) < 0.001 for m, km in nearest)
    assert r.geosearchstore(zone, KEY, longitude=0, latitude=0, radius=1, unit="km") == 0
    assert r.exists(zone) == 0


def test_nearby_stores_errors(r):
    import redis
    r.geoadd(KEY, [2.35, 48.85, "a"])
    for _ in range(2):
        with pytest.raises(redis.ResponseError, match="invalid longitude,latitude pair"):
            r.geoadd(KEY, [200, 10, "bad"])
        with pytest.raises(redis.ResponseError, match="could not decode requested zset member"):
            r.geosearch(KEY, member="nosuch", radius=1, unit="km")
    r.set("plain", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.geopos("plain", "a")


def test_nearby_stores_asyncio(port, protocol):
    stores = make_stores(200, seed=5)

    async def main():
        c = client(port, protocol, asyncio=True)
        try:
            assert await c.geoadd(KEY, geoadd_values(stores)) == len(stores)

            async def customer(i):
                rng = random.Random(i)
                lon, lat = CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.1, 0.1)
                res = await c.geosearch(KEY, longitude=lon, latitude=lat, radius=4, unit="km",
                                        withdist=True, withcoord=True, sort="ASC", count=5)
                check_nearby(res, stores, lon, lat, 4, 5)
                return len(res)

            counts = await asyncio.gather(*(customer(i) for i in range(30)))
            assert sum(counts) > 0
            n = await c.geosearchstore("zone", KEY, member="store:3", radius=2, unit="km")
            assert n >= 1 and await c.zscore("zone", "store:3") is not None
        finally:
            await c.aclose()

    asyncio.run(main())
