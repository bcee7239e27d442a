"""A built-in, ChatKit-compatible upstream for local demos, tests and benchmarks.

Nothing here runs unless started explicitly: `python manage.py run_demo_upstream`,
or `server.serve_in_thread()` from a test. Django installs it as an app (for its
commands) only with DJANGO_DEMO on, never in production; server.py's docstring maps
the modules and documents the control API.
"""
