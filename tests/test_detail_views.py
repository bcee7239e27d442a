"""The thread page, deletion and the audit trail, through Django's test client.

The upstream is faked by `responses`.
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.audit.models import AuditAction, AuditEvent

from .conftest import (
    THREADS_URL,
    deleted_json,
    error_json,
    item_json,
    items_page_json,
    page_json,
    thread_json,
    upstream_delete,
    upstream_items,
    upstream_thread,
)

pytestmark = pytest.mark.django_db

XSS = '<script>alert("x")</script>'
LINK = "https://d.example/a?b=1&c=2"
JS_URL = "javascript:alert(1)"


def grant(user, codename):
    user.user_permissions.add(Permission.objects.get(codename=codename))


@pytest.fixture
def deleter(staff_user):
    grant(staff_user, "delete_thread")
    return staff_user


def detail(client, thread_id="cthr_1", **params):
    return client.get(reverse("threads:detail", kwargs={"thread_id": thread_id}), params)


def hrefs(response, rel):
    body = response.content.decode()
    return [html.unescape(h) for h in re.findall(rf'href="([^"]*)" rel="{rel}"', body)]


def calls_to(method):
    return [c for c in responses.calls if c.request.method == method]


# --- The page -----------------------------------------------------------------------------


@responses.activate
def test_the_page_shows_the_threads_facts(staff_client):
    upstream_thread(
        title="Refund", user="user_7", created_at=1_700_000_000,
        status={"type": "locked", "reason": "Abuse"},
    )  # fmt: skip
    upstream_items([])
    response = detail(staff_client)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Refund</h1>" in body
    assert '<code class="thread-id">cthr_1</code>' in body
    assert 'data-copy="cthr_1"' in body
    assert 'href="/users/user_7/"' in body
    assert 'datetime="2023-11-14T22:13:20+00:00"' in body
    assert ">Locked</span>" in body and ">Abuse<" in body


@responses.activate
def test_an_untitled_thread_gets_a_placeholder(staff_client):
    upstream_thread(title=None)
    upstream_items([])
    body = detail(staff_client).content.decode()
    assert 'class="placeholder">Untitled thread<' in body
    assert "No items in this thread." in body


@pytest.mark.parametrize("title", ["", "   "])
@responses.activate
def test_an_empty_title_is_told_apart_from_a_missing_one(staff_client, title):
    upstream_thread(title=title)
    upstream_items([])
    body = detail(staff_client).content.decode()
    assert 'class="placeholder">Thread with an empty title<' in body
    assert "Untitled" not in body


@responses.activate
def test_the_transcript_is_asked_for_oldest_first(staff_client):
    upstream_thread()
    upstream_items([])
    detail(staff_client)
    assert sent_items_params() == {"order": "asc", "limit": "20"}


@responses.activate
def test_every_item_type_is_shown_and_labelled_in_text(staff_client):
    upstream_thread()
    upstream_items(
        [
            item_json("user_message"),
            item_json("assistant_message", spelling=""),
            item_json("widget"),
            item_json("client_tool_call"),
            item_json("task"),
            item_json("task_group"),
            item_json("hologram"),
        ]
    )
    body = detail(staff_client).content.decode()
    for label in ("User", "Assistant", "Widget", "Tool call", "Task", "Task group"):
        assert f'<span class="speaker">{label}</span>' in body
    assert "Unsupported item" in body and "chatkit.hologram" in body
    assert body.index("item-user") < body.index("item-assistant")
    assert "Hello, I need help." in body and "Happy to help." in body


@responses.activate
def test_tool_calls_and_tasks_are_collapsible(staff_client):
    upstream_thread()
    upstream_items([item_json("client_tool_call"), item_json("task"), item_json("task_group")])
    body = detail(staff_client).content.decode()
    assert body.count("<details>") == 3
    assert body.count("<summary>") == 3
    assert "<code>lookup_order</code>" in body


@responses.activate
def test_widget_json_is_shown_formatted_in_a_pre(staff_client):
    upstream_thread()
    upstream_items([item_json("widget", widget='{"type":"Card","children":[{"v":1}]}')])
    body = detail(staff_client).content.decode()
    pre = re.search(r'<pre class="json">(.*?)</pre>', body, re.S).group(1)
    assert html.unescape(pre).startswith('{\n  "type": "Card",')


@responses.activate
def test_annotations_are_links_shown_as_text_and_never_script(staff_client):
    upstream_thread()
    upstream_items(
        [
            item_json(
                "assistant_message",
                content=[
                    {
                        "type": "output_text",
                        "text": "Sources",
                        "annotations": [
                            {"type": "url", "source": {"type": "url", "url": LINK}},
                            {"type": "url", "source": {"type": "url", "url": JS_URL}},
                            {"type": "file", "source": {"type": "file", "filename": "guide.pdf"}},
                        ],
                    }
                ],
            )
        ]
    )  # fmt: skip
    body = detail(staff_client).content.decode()
    assert (
        '<a href="https://d.example/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">'
        "https://d.example/a?b=1&amp;c=2</a>"
    ) in body
    assert 'href="javascript:' not in body
    assert "<code>javascript:alert(1)</code>" in body
    assert "guide.pdf" in body


@responses.activate
def test_every_upstream_string_in_the_transcript_is_escaped(staff_client):
    upstream_thread(title=XSS, user=XSS, status={"type": "closed", "reason": XSS})
    upstream_items(
        [
            item_json(
                "user_message",
                content=[{"type": "quoted_text", "text": XSS}, {"type": "input_text", "text": XSS}],
                attachments=[
                    {"type": XSS, "id": XSS, "name": XSS, "mime_type": XSS, "preview_url": XSS}
                ],
                inference_options={"model": XSS, "tool_choice": {"id": XSS}},
            ),
            item_json(
                "assistant_message",
                content=[
                    {
                        "type": "output_text",
                        "text": XSS,
                        "annotations": [
                            {"type": "url", "source": {"type": "url", "url": "https://x/" + XSS}},
                            {"type": "file", "source": {"type": "file", "filename": XSS}},
                            {"type": XSS, "source": {}},
                        ],
                    }
                ],
            ),
            item_json("widget", widget=XSS),
            item_json("widget", widget=json.dumps({"k": XSS})),
            item_json(
                "client_tool_call", name=XSS, call_id=XSS, arguments=XSS, output=XSS, status=XSS
            ),
            item_json("task", task_type=XSS, heading=XSS, summary=XSS),
            item_json("task_group", tasks=[{"type": XSS, "heading": XSS, "summary": XSS}]),
            item_json(XSS, id=XSS),
        ]
    )  # fmt: skip
    body = detail(staff_client).content.decode()
    assert "<script>alert" not in body and "<script " not in body.split("</head>")[1]
    # Each string above is shown (escaped): count what reached the page.
    assert body.count("&lt;script&gt;") >= 30


@responses.activate
def test_the_list_links_each_thread_title_to_its_page(staff_client):
    responses.get(THREADS_URL, json=page_json([thread_json(id="cthr_a/b?c", title="Help")]))
    body = staff_client.get("/threads/").content.decode()
    assert '<a class="row-link" href="/threads/cthr_a%2Fb%3Fc/">Help</a>' in body
    assert '<code class="thread-id">cthr_a/b?c</code>' in body
    assert 'data-copy="cthr_a/b?c"' in body


@pytest.mark.parametrize("thread_id", ["cthr_a/b", "x?y#z", "100%", "sp ace", "ü/..", "a&b=c"])
@responses.activate
def test_hard_thread_ids_round_trip_from_link_to_upstream(staff_client, thread_id):
    from dashboard.web.links import thread_url

    upstream_thread_id = thread_id
    responses.get(
        re.compile(re.escape(THREADS_URL) + r"/[^/]+$"), json=thread_json(id=upstream_thread_id)
    )
    responses.get(re.compile(re.escape(THREADS_URL) + r"/[^/]+/items"), json=items_page_json([]))
    response = staff_client.get(thread_url(thread_id))
    assert response.status_code == 200
    from urllib.parse import quote

    paths = {call.request.path_url for call in responses.calls}
    assert f"/v1/chatkit/threads/{quote(thread_id, safe='')}" in paths


# --- Paging the transcript ----------------------------------------------------------------


@responses.activate
def test_the_first_page_offers_later_items_only(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_1"), item_json(id="cthi_2")], has_more=True)
    response = detail(staff_client)
    assert hrefs(response, "next") == ["/threads/cthr_1/?after=cthi_2"]
    assert hrefs(response, "prev") == []


@responses.activate
def test_paging_forward_always_offers_the_way_back(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_3")], has_more=False)
    response = detail(staff_client, after="cthi_2", limit="5")
    assert sent_items_params()["after"] == "cthi_2"
    assert hrefs(response, "prev") == ["/threads/cthr_1/?limit=5&before=cthi_3"]
    assert hrefs(response, "next") == []
    assert "« Beginning" in response.content.decode()


@responses.activate
def test_paging_back_always_offers_the_way_forward(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_2")], has_more=True)
    response = detail(staff_client, before="cthi_3", limit="1")
    assert hrefs(response, "next") == ["/threads/cthr_1/?limit=1&after=cthi_2"]
    assert hrefs(response, "prev") == ["/threads/cthr_1/?limit=1&before=cthi_2"]


@responses.activate
def test_paging_back_to_the_start_lands_on_the_first_page_itself(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_1")], has_more=False)
    response = detail(staff_client, before="cthi_2", limit="5", order="desc")
    assert response.status_code == 302
    assert response["Location"] == "/threads/cthr_1/?limit=5&order=desc"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "at least 1"),
        ({"limit": "101"}, "at most 100"),
        ({"limit": "x"}, "whole number"),
        ({"after": "a", "before": "b"}, "not both"),
        ({"after": "bad cursor"}, "not a valid item id"),
        ({"before": "c" * 600}, "This page cursor is too long to be an id (at most 512"),
    ],
)
@responses.activate
def test_bad_paging_values_get_a_400_without_an_upstream_call(staff_client, params, message):
    response = detail(staff_client, **params)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert len(responses.calls) == 0


# --- Upstream failures --------------------------------------------------------------------


@responses.activate
def test_a_missing_thread_gets_a_404_page_with_a_way_back(staff_client):
    upstream_thread("gone", http_status=404)
    response = detail(staff_client, "gone")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Thread not found" in body and "gone" in body
    assert 'href="/threads/"' in body
    assert "req_thread" in body


@responses.activate
def test_an_upstream_failure_shows_the_banner(staff_client):
    upstream_thread(http_status=503)
    response = detail(staff_client)
    body = response.content.decode()
    assert response.status_code == 503
    assert 'role="alert"' in body and "Upstream exploded" in body and "req_thread" in body
    assert response["Retry-After"] == "5"


@responses.activate
def test_a_transcript_failure_still_shows_the_thread(staff_client):
    upstream_thread(title="Still here")
    upstream_items([], status=500)
    response = detail(staff_client)
    body = response.content.decode()
    assert response.status_code == 503
    assert "Still here" in body and "Upstream exploded" in body and "req_items" in body


def test_an_overlong_thread_id_is_refused(staff_client):
    response = detail(staff_client, "x" * 600)
    assert response.status_code == 400
    assert "at most 512 characters" in response.content.decode()


@pytest.mark.parametrize("method", ["get", "post"])
@responses.activate
def test_an_overlong_thread_id_is_refused_on_the_delete_page_too(staff_client, deleter, method):
    url = reverse("threads:delete", kwargs={"thread_id": "x" * 600})
    response = getattr(staff_client, method)(url, {"confirm_id": "x" * 600})
    assert response.status_code == 400
    assert "at most 512 characters" in response.content.decode()
    assert len(responses.calls) == 0


# --- Deletion -----------------------------------------------------------------------------


def delete_url(thread_id="cthr_1"):
    return reverse("threads:delete", kwargs={"thread_id": thread_id})


@responses.activate
def test_the_delete_button_shows_only_with_the_permission(staff_client, staff_user):
    upstream_thread()
    upstream_items([])
    assert "Delete thread…" not in detail(staff_client).content.decode()
    grant(staff_user, "delete_thread")
    upstream_thread()
    upstream_items([])
    body = detail(staff_client).content.decode()
    assert f'href="{delete_url()}">Delete thread…' in body


@responses.activate
def test_without_the_permission_deleting_is_forbidden(staff_client):
    assert staff_client.get(delete_url()).status_code == 403
    response = staff_client.post(delete_url(), {"confirm_id": "cthr_1"})
    assert response.status_code == 403
    assert "Can delete ChatKit threads" in response.content.decode()
    assert len(responses.calls) == 0


def test_superusers_hold_the_permission_but_plain_non_staff_do_not(client, django_user_model):
    user = django_user_model.objects.create_user("enduser", password="pw-123456789")
    grant(user, "delete_thread")
    client.force_login(user)
    assert client.get(delete_url()).status_code == 403  # staff access still comes first


@responses.activate
def test_the_confirmation_page_asks_for_the_id(staff_client, deleter):
    upstream_thread(title="Bye")
    response = staff_client.get(delete_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "Bye" in body and 'name="confirm_id"' in body
    assert "csrfmiddlewaretoken" in body
    assert calls_to("DELETE") == []


@responses.activate
def test_the_confirmation_page_of_a_missing_thread_is_a_404(staff_client, deleter):
    upstream_thread("gone", http_status=404)
    assert staff_client.get(delete_url("gone")).status_code == 404


@pytest.mark.parametrize("typed", ["", "cthr_2", "cthr_1 ", "CTHR_1"])
@responses.activate
def test_a_wrong_retype_is_a_400_beside_the_field_and_deletes_nothing(staff_client, deleter, typed):
    upstream_thread(title="Refund for order 42", user="alice")
    response = staff_client.post(delete_url(), {"confirm_id": typed})
    body = response.content.decode()
    assert response.status_code == 400
    # The thread's details stay, to check the retyped id against.
    facts = body[body.index('<dl class="facts">') :]
    assert "Refund for order 42" in facts and "alice" in facts and "<time" in facts
    assert 'class="badge badge-active"' in facts
    field = body.index('name="confirm_id"')
    error = body.index('class="field-error"')
    assert 0 < error - field < 400
    assert 'aria-invalid="true"' in body
    assert calls_to("DELETE") == []
    assert not AuditEvent.objects.exists()


@responses.activate
def test_deleting_needs_a_csrf_token(deleter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(deleter)
    response = client.post(delete_url(), {"confirm_id": "cthr_1"})
    assert response.status_code == 403
    assert calls_to("DELETE") == []


@responses.activate
def test_with_the_token_from_the_form_deleting_works(deleter):
    client = Client(enforce_csrf_checks=True)
    client.force_login(deleter)
    upstream_thread()
    page = client.get(delete_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    upstream_thread()
    upstream_delete()
    response = client.post(delete_url(), {"confirm_id": "cthr_1", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


@responses.activate
def test_a_successful_delete_returns_to_the_owners_threads_with_a_message(staff_client, deleter):
    upstream_thread(user="owner_9")
    upstream_delete()
    response = staff_client.post(delete_url(), {"confirm_id": "cthr_1"}, follow=False)
    assert response.status_code == 302
    assert response["Location"] == "/users/owner_9/"
    responses.get(THREADS_URL, json=page_json([]))
    landing = staff_client.get(response["Location"]).content.decode()
    assert "Deleted thread cthr_1." in landing
    event = AuditEvent.objects.get(action=AuditAction.DELETED_THREAD)
    assert (event.thread_id, event.end_user, event.upstream_request_id) == (
        "cthr_1",
        "owner_9",
        "req_del",
    )
    assert event.actor == deleter and event.actor_username == "support"


@responses.activate
def test_an_upstream_failure_shows_the_banner_on_the_confirmation_page(staff_client, deleter):
    upstream_thread()
    upstream_delete(status=500)
    response = staff_client.post(delete_url(), {"confirm_id": "cthr_1"})
    body = response.content.decode()
    assert response.status_code == 503
    assert "Deletion refused by upstream" in body and "req_del" in body
    assert 'name="confirm_id"' in body
    assert not AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD).exists()
    failed = AuditEvent.objects.get(action=AuditAction.DELETE_FAILED)
    assert failed.upstream_request_id == "req_del" and failed.details["status"] == 500


@responses.activate
def test_an_unconfirmed_deletion_is_reported_not_celebrated(staff_client, deleter):
    upstream_thread()
    upstream_delete(body=deleted_json("cthr_1", deleted=False))
    response = staff_client.post(delete_url(), {"confirm_id": "cthr_1"})
    assert response.status_code == 502
    assert "without confirming" in response.content.decode()


@responses.activate
def test_deleting_a_thread_already_gone_says_so_and_goes_back_to_the_list(staff_client, deleter):
    upstream_thread(http_status=404)
    upstream_delete(status=404)
    response = staff_client.post(delete_url(), {"confirm_id": "cthr_1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("threads:list")
    responses.get(THREADS_URL, json=page_json([]))
    landing = staff_client.get(response["Location"]).content.decode()
    assert "Thread cthr_1 no longer exists upstream" in landing
    assert not AuditEvent.objects.filter(action=AuditAction.DELETED_THREAD).exists()
    failed = AuditEvent.objects.get(action=AuditAction.DELETE_FAILED)
    assert failed.details["status"] == 404


# --- The audit trail ----------------------------------------------------------------------


@responses.activate
def test_viewing_a_thread_is_recorded_with_the_request_id(staff_client, staff_user):
    upstream_thread(user="owner_1")
    upstream_items([])
    detail(staff_client)
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.VIEWED_THREAD
    assert (event.thread_id, event.end_user, event.upstream_request_id) == (
        "cthr_1",
        "owner_1",
        "req_thread",
    )
    assert event.actor == staff_user


@responses.activate
def test_a_failed_view_records_nothing(staff_client):
    upstream_thread(http_status=404)
    detail(staff_client)
    assert not AuditEvent.objects.exists()


@responses.activate
def test_viewing_a_users_threads_is_recorded(staff_client):
    responses.get(
        THREADS_URL, json=page_json([thread_json()]), headers={"x-request-id": "req_list"}
    )
    staff_client.get(reverse("threads:user", kwargs={"user": "ops@x/y"}), {"limit": "10"})
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.VIEWED_USER_THREADS
    assert (event.end_user, event.upstream_request_id) == ("ops@x/y", "req_list")
    assert event.details == {"user": "ops@x/y", "limit": "10", "source": "live"}


@responses.activate
def test_a_failed_user_list_records_nothing(staff_client):
    responses.get(THREADS_URL, json=error_json(), status=500)
    staff_client.get(reverse("threads:user", kwargs={"user": "u"}))
    assert not AuditEvent.objects.exists()


def test_the_actor_name_survives_the_actors_deletion(staff_user):
    from dashboard.audit.services import record_event

    record_event(actor=staff_user, action=AuditAction.VIEWED_THREAD, thread_id="t")
    staff_user.delete()
    event = AuditEvent.objects.get()
    assert event.actor is None and event.actor_username == "support"


def test_the_audit_nav_link_needs_the_view_permission(staff_client, staff_user):
    url = reverse("audit:log")
    assert f'href="{url}"' not in staff_client.get(reverse("login")).content.decode()
    grant(staff_user, "view_auditevent")
    assert (
        f'href="{url}" data-shortcut="g a">Audit log<'
        in staff_client.get(reverse("login")).content.decode()
    )


@pytest.fixture
def auditor_client(staff_client, staff_user):
    grant(staff_user, "view_auditevent")
    return staff_client


def test_the_admin_log_needs_the_view_permission(staff_client):
    assert staff_client.get(reverse("admin:audit_auditevent_changelist")).status_code == 403


def test_the_admin_log_lists_searches_and_filters(auditor_client, staff_user):
    from dashboard.audit.services import record_event

    record_event(actor=staff_user, action=AuditAction.VIEWED_THREAD, thread_id="cthr_find_me")
    record_event(actor=staff_user, action=AuditAction.EXPORTED_CSV, end_user="someone")
    url = reverse("admin:audit_auditevent_changelist")
    assert "cthr_find_me" in auditor_client.get(url).content.decode()
    found = auditor_client.get(url, {"q": "find_me"}).content.decode()
    assert "cthr_find_me" in found and "someone" not in found
    filtered = auditor_client.get(url, {"action__exact": "exported_csv"}).content.decode()
    assert "someone" in filtered and "cthr_find_me" not in filtered


def test_the_admin_log_is_read_only(auditor_client, staff_user):
    from dashboard.audit.services import record_event

    event = record_event(actor=staff_user, action=AuditAction.VIEWED_THREAD, thread_id="t1")
    assert auditor_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    change = reverse("admin:audit_auditevent_change", args=[event.pk])
    page = auditor_client.get(change)
    assert page.status_code == 200 and 'name="thread_id"' not in page.content.decode()
    assert auditor_client.post(change, {"thread_id": "t2"}).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert auditor_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:audit_auditevent_changelist")
    auditor_client.post(changelist, {"action": "delete_selected", "_selected_action": [event.pk]})
    event.refresh_from_db()
    assert event.thread_id == "t1"


def test_even_a_superuser_cannot_edit_the_log(client, django_user_model):
    from dashboard.audit.services import record_event

    admin = django_user_model.objects.create_superuser("root", password="pw-123456789")
    client.force_login(admin)
    event = record_event(actor=admin, action=AuditAction.VIEWED_THREAD, thread_id="t1")
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.count() == 1


def test_prune_deletes_only_events_older_than_the_retention(settings, staff_user):
    from dashboard.audit.services import record_event

    settings.AUDIT_RETENTION_DAYS = 30
    old = record_event(actor=staff_user, action=AuditAction.VIEWED_THREAD, thread_id="old")
    AuditEvent.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    record_event(actor=staff_user, action=AuditAction.VIEWED_THREAD, thread_id="new")

    out = StringIO()
    call_command("prune_audit_log", "--dry-run", stdout=out)
    assert "Would delete 1 audit event" in out.getvalue()
    assert AuditEvent.objects.count() == 2

    out = StringIO()
    call_command("prune_audit_log", stdout=out)
    assert "Deleted 1 audit event " in out.getvalue()
    assert list(AuditEvent.objects.values_list("thread_id", flat=True)) == ["new"]


def test_prune_refuses_a_nonsense_retention():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_audit_log", "--days", "0")


@pytest.mark.engine  # PostgreSQL refuses NUL in text; SQLite stores it
def test_audit_records_keep_ids_with_nul_characters_spelled_out(staff_user):
    from dashboard.audit.services import record_event

    event = record_event(
        actor=staff_user,
        action=AuditAction.VIEWED_USER_THREADS,
        end_user="bad\x00user",
        details={"cursor": "a\x00b", "list": ["\x00"]},
    )
    event.refresh_from_db()
    assert event.end_user == "bad\\x00user"
    assert event.details == {"cursor": "a\\x00b", "list": ["\\x00"]}


@responses.activate
def test_the_confirmation_form_posts_back_to_an_id_with_url_characters(staff_client, deleter):
    thread_id = "cthr_a?b#c%d"
    responses.get(f"{THREADS_URL}/cthr_a%3Fb%23c%25d", json=thread_json(id=thread_id))
    body = staff_client.get(delete_url(thread_id)).content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" class="stacked-form"', body)
    action = html.unescape(form.group(1))
    assert action == "/threads/cthr_a%3Fb%23c%25d/delete/"


# --- Opening a thread by id from the header ---------------------------------------------------


def test_the_header_box_opens_a_pasted_thread_id(staff_client):
    response = staff_client.get(reverse("threads:open"), {"id": "  cthr_a?b#c%  "})
    assert response.status_code == 302
    assert response["Location"] == "/threads/cthr_a%3Fb%23c%25/"


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("", "Paste a thread id"),
        ("cthr_1 cthr_2", "no spaces or line breaks"),
        ("..", "not a thread id"),
        ("cthr_1/delete", "not a thread id"),
        ("x" * 513, "at most 512 characters"),
    ],
)
def test_the_header_box_refuses_what_is_not_a_thread_id(staff_client, pasted, message):
    response = staff_client.get(reverse("threads:open"), {"id": pasted})
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())


def test_the_header_box_is_for_staff_only(client):
    response = client.get(reverse("threads:open"), {"id": "cthr_1"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@responses.activate
def test_every_staff_page_has_the_open_thread_box(staff_client):
    responses.get(THREADS_URL, json=page_json([]))
    body = staff_client.get("/threads/").content.decode()
    assert 'action="/threads/open"' in body and 'name="id"' in body


@responses.activate
def test_a_delete_whose_owner_is_unknown_returns_to_all_threads(staff_client, deleter):
    upstream_thread(http_status=500)
    upstream_delete()
    response = staff_client.post(delete_url(), {"confirm_id": "cthr_1"})
    assert response["Location"] == reverse("threads:list")


# --- Transcript tools -------------------------------------------------------------------


def sent_items_params():
    call = next(c for c in responses.calls if "/items" in c.request.url)
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


@responses.activate
def test_the_transcript_reads_oldest_first_by_default(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_1")])
    body = detail(staff_client).content.decode()
    assert sent_items_params()["order"] == "asc"
    assert '<a href="/threads/cthr_1/" aria-current="true">Oldest first</a>' in body
    assert '<a href="/threads/cthr_1/?order=desc">Newest first</a>' in body


@responses.activate
def test_newest_first_asks_the_upstream_for_it_and_pages_keep_it(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_9"), item_json(id="cthi_8")], has_more=True)
    response = detail(staff_client, order="desc", limit=2)
    body = response.content.decode()
    assert sent_items_params()["order"] == "desc"
    assert '<a href="/threads/cthr_1/?limit=2&amp;order=desc" aria-current="true">' in body
    assert hrefs(response, "next") == ["/threads/cthr_1/?limit=2&order=desc&after=cthi_8"]
    assert "Load older</a>" in body
    event = AuditEvent.objects.get()
    assert event.details == {"order": "desc"}


@responses.activate
def test_a_later_page_newest_first_jumps_back_to_the_latest(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_5")], has_more=True)
    body = html.unescape(detail(staff_client, order="desc", after="cthi_6").content.decode())
    assert '<a class="button small" href="/threads/cthr_1/?order=desc">Jump to latest</a>' in body
    assert "« Newest</a>" in body and "Load newer</a>" in body


def test_an_unknown_order_is_a_400_in_plain_words(staff_client):
    response = detail(staff_client, order="sideways")
    assert response.status_code == 400
    assert "Order is oldest first (asc) or newest first (desc)." in response.content.decode()


@responses.activate
def test_jump_to_latest_goes_to_the_newest_while_later_items_exist(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_1")], has_more=True)
    body = detail(staff_client).content.decode()
    assert '<a class="button small" href="/threads/cthr_1/?order=desc">Jump to latest</a>' in body


@responses.activate
def test_jump_to_latest_scrolls_down_when_this_page_holds_the_end(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_1")])
    body = detail(staff_client).content.decode()
    assert '<a class="button small" href="#transcript-end">Jump to latest</a>' in body
    assert '<div id="transcript-end"></div>' in body


@responses.activate
def test_each_message_has_an_anchor_a_permalink_and_a_copy_button(staff_client):
    upstream_thread()
    upstream_items(
        [item_json(id="cthi_1"), item_json("assistant_message", id="cthi a/2")], has_more=True
    )
    body = detail(staff_client, after="cthi_0").content.decode()
    assert 'id="item-cthi_1"' in body and 'id="item-cthi%20a%2F2"' in body
    assert 'href="/threads/cthr_1/?after=cthi_0#item-cthi_1">Link' in body
    assert 'href="/threads/cthr_1/?after=cthi_0#item-cthi%20a%2F2">Link' in body
    assert 'data-copy-from="text-cthi_1"' in body and 'id="text-cthi_1"' in body
    assert 'aria-label="Copy the text of this assistant message"' in body


@responses.activate
def test_expand_and_collapse_all_show_only_with_folded_items(staff_client):
    upstream_thread()
    upstream_items([item_json(id="cthi_1")])
    assert "Expand all" not in detail(staff_client).content.decode()
    responses.reset()
    upstream_thread()
    upstream_items([item_json(id="cthi_1"), item_json("client_tool_call", id="cthi_2")])
    body = detail(staff_client).content.decode()
    assert 'data-details="open">Expand all</button>' in body
    assert 'data-details="close">Collapse all</button>' in body
