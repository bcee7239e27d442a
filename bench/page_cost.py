"""Server-side cost of a thread list page, upstream excluded, against a plain-template floor.

    .venv/bin/python bench/page_cost.py [--repeat 300]

The whole request (middleware, session, auth, form, django-tables2, templates) goes
through Django's test client with `thread_page` stubbed to return an already-parsed page,
so the upstream wait and JSON parsing are excluded. The floor renders the same rows with
a plain Django template loop. Prints medians and their ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
from unittest import mock

from common import median_ms, setup_django, staff_client

FLOOR = (
    "<table>{% for t in rows %}<tr><td>{{ t.title }}</td><td>{{ t.id }}</td>"
    "<td>{{ t.user }}</td><td>{{ t.created_at }}</td><td>{{ t.status.label }}</td></tr>"
    "{% endfor %}</table>"
)


def make_page(count: int):
    from dashboard.chatkit.types import ThreadPage

    kinds = ["active", "locked", "closed"]
    rows = [
        {
            "id": f"cthr_{n:032x}",
            "object": "chatkit.thread",
            "created_at": 1_760_000_000 - n * 60,
            "title": f"Refund for order #{n}" if n % 5 else None,
            "user": ["user_0001", "team/support", "100%-sure", "josé"][n % 4],
            "status": {"type": kinds[n % 3], "reason": "Spam" if n % 2 else None},
        }
        for n in range(count)
    ]
    return ThreadPage.from_dict(
        {
            "object": "list",
            "data": rows,
            "first_id": rows[0]["id"],
            "last_id": rows[-1]["id"],
            "has_more": True,
        }  # fmt: skip
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    setup_django()
    from django.template import engines

    client = staff_client()
    floor = engines["django"].from_string(FLOOR)
    print(f"server-side cost per page, median of {args.repeat} runs (upstream excluded)")
    print(f"{'rows':>5} {'request ms':>11} {'floor ms':>9} {'ratio':>6}")
    for count in (20, 100):
        page = make_page(count)
        # The default size has no query string: the list redirects URLs spelling it out.
        url = "/threads/" if count == 20 else f"/threads/?limit={count}"
        with mock.patch("dashboard.threads.selectors.thread_page", return_value=page):
            assert client.get(url).status_code == 200
            for _ in range(20):  # warm the template cache and the session
                client.get(url)
            request = median_ms(lambda url=url: client.get(url), args.repeat)
        context = {"rows": page.threads}
        floor_ms = median_ms(lambda context=context: floor.render(context), args.repeat)
        print(f"{count:>5} {request:>11.2f} {floor_ms:>9.2f} {request / floor_ms:>6.2f}")


if __name__ == "__main__":
    main()
