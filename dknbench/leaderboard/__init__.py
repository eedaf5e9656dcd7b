"""Static leaderboard site built from run directories or a results dataset.

Templates and static assets live in the repository's ``leaderboard/`` folder (shipped in the wheel
as ``dknbench/_leaderboard``; found through ``dknbench.paths.leaderboard_dir()``). The site needs
nothing external: no CDN, plain HTML with a small sortable-table script.
"""

from .server import make_server, serve
from .site import build_site
from .tables import LeaderboardData, Row, prepare

__all__ = ["LeaderboardData", "Row", "build_site", "make_server", "prepare", "serve"]
