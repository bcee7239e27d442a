"""A built-in, ChatKit-compatible upstream for local demos, tests and benchmarks.

Nothing here runs unless started explicitly: `python manage.py run_demo_upstream`,
or `server.serve_in_thread()` from a test.
"""
