"""The web app's parts, besides the HTTP routes in :mod:`matdiff.web.server`.

- :mod:`matdiff.web.pool`: worker processes that run engine jobs, each killed and
  replaced when it overruns its time, so one runaway request cannot hog the server;
- :mod:`matdiff.web.worker`: the loop inside such a process (JSON lines on a pipe);
- :mod:`matdiff.web.jobs`: what a job computes, by calling the public engine API;
- :mod:`matdiff.web.numcheck`: the finite-difference check of a derivative;
- :mod:`matdiff.web.openapi`: the OpenAPI description served at ``/openapi.json``;
- ``static/``: the single page (HTML, CSS, JS), served from a fixed list of files.

Nothing here is imported by the CLI unless ``matdiff serve`` runs.
"""
