"""The nav-bundle map viewer: a static MapLibre GL + PMTiles page and a local range-capable server.

See ``docs/viewer.md``. Public entry points: :func:`pipelines.view.server.make_server` and
:func:`pipelines.view.cli.register` (the ``chargepoints view`` subcommand).
"""
