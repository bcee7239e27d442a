from django.apps import AppConfig


class DataRequestsConfig(AppConfig):
    name = "dashboard.data_requests"
    label = "data_requests"
    verbose_name = "Data-subject requests"
