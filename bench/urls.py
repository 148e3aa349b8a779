from django.urls import path

from bench.ceilings import CeilingCreateView, ceiling_locked_update

urlpatterns = [
    path("payments/", CeilingCreateView.as_view(), name="bench-ceiling-create"),
    path("locked-update/", ceiling_locked_update, name="bench-ceiling-locked-update"),
]
