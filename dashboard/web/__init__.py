"""What every page that shows ChatKit threads shares, whatever its source.

The live pages (dashboard/threads/) use it now; the thread index and data requests will
too. It imports nothing from those apps, so each can build on it without reaching
sideways into another: the list's query state, filter forms, paging rules and links, the
thread table, CSV rows, the upstream-error seam and the `<time>` tag.
"""
