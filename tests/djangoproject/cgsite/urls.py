from __future__ import annotations

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("", views.page),
    path("async/", views.async_page),
    path("seen/", views.seen),
    path("async/seen/", views.async_seen),
    path("admin/", admin.site.urls),
]
