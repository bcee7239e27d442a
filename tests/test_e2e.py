"""The dashboard end to end over real HTTP: a live Django server against the demo upstream."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest
import requests

from dashboard.demo_upstream.server import serve_in_thread

DEMO_KEY = "e2e-demo-key-" + "z" * 24
PASSWORD = "e2e correct horse"


@pytest.fixture(scope="module")
def demo_upstream():
    server, base_url = serve_in_thread(api_key=DEMO_KEY)
    yield base_url
    server.close()


@pytest.fixture
def dashboard(live_server, settings, demo_upstream, django_user_model):
    settings.CHATKIT = replace(
        settings.CHATKIT, api_key=DEMO_KEY, base_url=demo_upstream, time_budget=5.0
    )
    django_user_model.objects.create_user("e2e", password=PASSWORD, is_staff=True)
    return live_server.url


def logged_in_session(base: str) -> requests.Session:
    session = requests.Session()
    login = session.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    answer = session.post(
        f"{base}/accounts/login/",
        data={"username": "e2e", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": ""},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    assert answer.url == f"{base}/threads/"
    return session


def hrefs(text: str, rel: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'href="([^"]*)" rel="{rel}"', text)]


def thread_ids(text: str) -> list[str]:
    return re.findall(r'<code class="thread-id">([^<]+)</code>', text)


@pytest.mark.django_db(transaction=True)
def test_a_staff_member_browses_pages_there_and_back(dashboard):
    session = logged_in_session(dashboard)
    first = session.get(f"{dashboard}/threads/?limit=25")
    assert first.status_code == 200
    first_ids = thread_ids(first.text)
    assert len(first_ids) == 25
    assert hrefs(first.text, "prev") == []

    second = session.get(dashboard + hrefs(first.text, "next")[0])
    second_ids = thread_ids(second.text)
    assert len(second_ids) == 25
    assert not set(first_ids) & set(second_ids)

    back = session.get(dashboard + hrefs(second.text, "prev")[0])
    assert thread_ids(back.text) == first_ids
    assert hrefs(back.text, "next"), "paging back must always offer Next"


@pytest.mark.django_db(transaction=True)
def test_every_user_link_opens_that_users_threads(dashboard):
    session = logged_in_session(dashboard)
    page = session.get(f"{dashboard}/threads/?limit=100").text
    links = dict.fromkeys(
        html.unescape(h) for h in re.findall(r'<td class="col-user"><a href="([^"]+)"', page)
    )
    assert len(links) >= 20
    for href in links:
        user_page = session.get(dashboard + href)
        assert user_page.status_code == 200, href
        users = {
            html.unescape(u)
            for u in re.findall(
                r'<td class="col-user"><a href="[^"]+"[^>]*>([^<]*)</a>', user_page.text
            )
        }
        heading = html.unescape(
            re.search(r'<span class="user-id">([^<]*)</span>', user_page.text).group(1)
        )
        assert users == {heading}, href


@pytest.mark.django_db(transaction=True)
def test_the_status_filter_finds_locked_threads_and_says_how_far_it_looked(dashboard):
    session = logged_in_session(dashboard)
    page = session.get(f"{dashboard}/threads/?status=locked&limit=10")
    text = html.unescape(page.text)
    assert page.status_code == 200
    assert text.count('class="badge badge-locked"') == 10
    assert "badge-active" not in text
    assert re.search(r"10 locked threads among the [\d,]+ most recent threads\.", text)


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_shows_the_rejected_key_banner(dashboard, settings):
    settings.CHATKIT = replace(settings.CHATKIT, api_key="e2e-wrong-key-" + "w" * 20)
    session = logged_in_session(dashboard)
    page = session.get(f"{dashboard}/threads/")
    assert page.status_code == 502
    assert "rejected the dashboard&#x27;s API key" in page.text
    assert re.search(r"<code>req_[0-9a-f]+</code>", page.text)
    assert settings.CHATKIT.api_key not in page.text


@pytest.mark.django_db(transaction=True)
def test_anonymous_visitors_only_reach_login_and_health(dashboard):
    anonymous = requests.Session()
    threads = anonymous.get(f"{dashboard}/threads/", allow_redirects=False)
    assert threads.status_code == 302
    assert threads.headers["Location"].startswith("/accounts/login/?next=")
    assert anonymous.get(f"{dashboard}/healthz").json() == {"status": "ok"}
