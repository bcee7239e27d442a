from django.urls import path

from . import views

app_name = "thread_index"
urlpatterns = [
    path("index/", views.IndexStatusView.as_view(), name="status"),
    path("index/sync", views.SyncNowView.as_view(), name="sync_now"),
    path("index/cancel", views.CancelSyncView.as_view(), name="cancel"),
]
