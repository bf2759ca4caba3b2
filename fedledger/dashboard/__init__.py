"""The live dashboard: a small ASGI app (Starlette, served by uvicorn) with a JSON API and
one page that polls it.

The page and its chart (plain SVG drawn by ``static/chart.js``) ship in this package:
nothing is fetched from the internet when it runs. Every number arrives from the API
already in human units beside its base units (``fedledger.units``), so the page only
lays the data out. The data come from :mod:`fedledger.queries` (read models of the
chain and the store): anyone who can read the chain can run it, no key needed.
"""

from fedledger.dashboard.app import STATIC_DIR, StateSource, create_app
from fedledger.dashboard.server import DashboardServer

__all__ = ["STATIC_DIR", "DashboardServer", "StateSource", "create_app"]
