from django.urls import path

from . import views

app_name = "data_requests"
urlpatterns = [
    path("data-requests/", views.DataRequestListView.as_view(), name="list"),
    path("data-requests/new/export/", views.NewExportView.as_view(), name="new_export"),
    path("data-requests/new/erasure/", views.NewErasureView.as_view(), name="new_erasure"),
    path("data-requests/<int:pk>/", views.DataRequestDetailView.as_view(), name="detail"),
    path(
        "data-requests/<int:pk>/progress/",
        views.DataRequestProgressView.as_view(),
        name="progress",
    ),
    path("data-requests/<int:pk>/cancel/", views.DataRequestCancelView.as_view(), name="cancel"),
    path(
        "data-requests/<int:pk>/archive.zip",
        views.ArchiveDownloadView.as_view(),
        name="download",
    ),
]
