"""An ASGI app given to -k tornado: refused at load with a TypeError naming it (exit 4)."""


async def app(scope, receive, send):
    pass
