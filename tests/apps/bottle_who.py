"""A plain bottle app that keeps using bottle.request across suspends:
bottle keeps the request in a threading.local, which is per core."""
import bottle
import uwsgi

app = application = bottle.Bottle()


@app.get("/who")
def who():
    mine = bottle.request.query.name
    for _ in range(10):
        uwsgi.suspend()
    return "before=%s after=%s" % (mine, bottle.request.query.name)
