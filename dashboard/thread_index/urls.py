from django.urls import path

from . import page_views, views

app_name = "thread_index"
urlpatterns = [
    path("index/", views.IndexStatusView.as_view(), name="status"),
    path("index/sync", views.SyncNowView.as_view(), name="sync_now"),
    path("index/cancel", views.CancelSyncView.as_view(), name="cancel"),
    # "/users/<id>/" is the live per-user list (threads/urls.py); neither of these is one.
    path("users/", page_views.UserDirectoryView.as_view(), name="users"),
    path("users/suggestions.json", page_views.user_suggestion_list, name="user_suggestions"),
]
