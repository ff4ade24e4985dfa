from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "changemgmt.catalog"
    label = "catalog"
